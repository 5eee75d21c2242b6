package importer

// CheckFirst makes im look every batch's codes up before storing it.
func CheckFirst(im *Importer) { im.checkFirst = true }
