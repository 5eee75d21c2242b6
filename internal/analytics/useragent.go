package analytics

import (
	"strings"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// Device types, as stored.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceBot     = "bot"
	DeviceOther   = "other"
)

// An Agent is what a User-Agent header says about the client.
type Agent struct {
	Browser string // "Chrome", "Safari", a bot's name such as "Googlebot"; "" when unknown
	OS      string // "Windows", "iOS", "Android", "macOS"…; "" when unknown
	Device  string // one of the Device constants
	Bot     bool   // a crawler, link preview, monitor, headless browser or HTTP library
}

// UAParser classifies User-Agent headers. The browser, OS and device come
// from github.com/medama-io/go-useragent (a trie, no allocation; measured
// at a tenth of mileusna/useragent's time on our mix, see
// docs/analytics.md); bots are recognised by our own list, which the
// library's misses (WhatsApp's and Skype's previews, wget, Go's and
// Python's HTTP clients, GPTBot, Mastodon, monitoring services…) made
// necessary.
type UAParser struct {
	p *useragent.Parser
}

// NewUAParser returns a parser. It is safe for concurrent use.
func NewUAParser() *UAParser { return &UAParser{p: useragent.NewParser()} }

// botToken is a lower-case substring that marks an automated client, and
// the name to report for it ("" keeps whatever the library found).
type botToken struct{ sub, name string }

// botTokens are checked in order; the first match names the bot. Specific
// names come before the generic words at the end, and a bot that quotes
// another ("TelegramBot (like TwitterBot)") before the one it quotes.
var botTokens = []botToken{
	// Link previews of chat apps and social networks.
	{"facebookexternalhit", "Facebook"}, {"facebot", "Facebook"}, {"meta-externalagent", "Facebook"},
	{"telegrambot", "Telegram"}, {"twitterbot", "Twitter"}, {"linkedinbot", "LinkedIn"}, {"slackbot", "Slack"}, {"slack-imgproxy", "Slack"},
	{"discordbot", "Discord"}, {"whatsapp", "WhatsApp"},
	{"skypeuripreview", "Skype"}, {"pinterestbot", "Pinterest"}, {"pinterest/0.", "Pinterest"},
	{"redditbot", "Reddit"}, {"vkshare", "VK"}, {"mastodon/", "Mastodon"}, {"cardyb", "Bluesky"},
	{"iframely", "Iframely"}, {"embedly", "Embedly"}, {"line-poker", "LINE"}, {"kakaotalk-scrap", "KakaoTalk"},
	{"flipboardproxy", "Flipboard"}, {"tumblr", "Tumblr"}, {"bitlybot", "Bitly"}, {"microsoftpreview", "Microsoft"},
	// Search engines and AI crawlers.
	{"googlebot", "Googlebot"}, {"google-inspectiontool", "Google"}, {"googleother", "Google"},
	{"adsbot-google", "Google"}, {"mediapartners-google", "Google"}, {"feedfetcher-google", "Google"},
	{"bingbot", "Bingbot"}, {"bingpreview", "Bing"}, {"slurp", "Yahoo"}, {"duckduckbot", "DuckDuckGo"},
	{"baiduspider", "Baidu"}, {"yandexbot", "Yandex"}, {"applebot", "Applebot"}, {"petalbot", "Petal"},
	{"sogou", "Sogou"}, {"seznambot", "Seznam"}, {"ahrefs", "Ahrefs"}, {"semrush", "Semrush"},
	{"mj12bot", "Majestic"}, {"dotbot", "Moz"}, {"bytespider", "Bytespider"}, {"gptbot", "GPTBot"},
	{"chatgpt-user", "ChatGPT"}, {"oai-searchbot", "OpenAI"}, {"ccbot", "Common Crawl"},
	{"claudebot", "ClaudeBot"}, {"claude-web", "Claude"}, {"anthropic-ai", "Anthropic"},
	{"perplexitybot", "Perplexity"}, {"amazonbot", "Amazonbot"}, {"ia_archiver", "Internet Archive"},
	// Monitoring.
	{"uptimerobot", "UptimeRobot"}, {"pingdom", "Pingdom"}, {"statuscake", "StatusCake"},
	{"site24x7", "Site24x7"}, {"datadog", "Datadog"}, {"newrelicpinger", "New Relic"},
	{"nagios", "Nagios"}, {"check_http", "Nagios"}, {"zabbix", "Zabbix"}, {"blackbox-exporter", "Prometheus"},
	{"prometheus", "Prometheus"}, {"uptime-kuma", "Uptime Kuma"}, {"freshping", "Freshping"},
	// Headless browsers and page testers.
	{"headlesschrome", "Headless Chrome"}, {"phantomjs", "PhantomJS"}, {"chrome-lighthouse", "Lighthouse"},
	{"lighthouse", "Lighthouse"}, {"selenium", "Selenium"}, {"playwright", "Playwright"}, {"puppeteer", "Puppeteer"},
	// HTTP libraries and command-line tools.
	{"curl/", "curl"}, {"wget/", "Wget"}, {"go-http-client", "Go"}, {"python-requests", "python-requests"},
	{"python-urllib", "Python"}, {"python-httpx", "Python"}, {"aiohttp", "Python"}, {"httpx", "Python"},
	{"okhttp", "OkHttp"}, {"java/", "Java"}, {"apache-httpclient", "Java"}, {"jakarta commons-httpclient", "Java"},
	{"libwww-perl", "Perl"}, {"lwp::", "Perl"}, {"node-fetch", "Node.js"}, {"undici", "Node.js"},
	{"axios/", "Node.js"}, {"got (", "Node.js"}, {"faraday", "Ruby"}, {"http.rb", "Ruby"}, {"ruby", "Ruby"},
	{"guzzlehttp", "PHP"}, {"php/", "PHP"}, {"powershell", "PowerShell"}, {"httpie", "HTTPie"},
	{"postmanruntime", "Postman"}, {"insomnia", "Insomnia"}, {"scrapy", "Scrapy"}, {"reqwest", "Rust"},
	{"dart:io", "Dart"}, {"restsharp", "RestSharp"}, {"winhttp", "WinHTTP"},
	{"nmap", "Nmap"}, {"masscan", "masscan"}, {"zgrab", "ZGrab"}, {"nuclei", "Nuclei"}, {"sqlmap", "sqlmap"},
	// Generic words. "bot" is checked on its own below, since "Cubot" is
	// a phone.
	{"crawl", ""}, {"spider", ""}, {"scraper", ""}, {"fetcher", ""}, {"preview", ""},
	{"monitor", ""}, {"http-client", ""}, {"httpclient", ""}, {"headless", ""},
}

// exactBots are whole User-Agent values of HTTP libraries too short to
// match safely as substrings (Node's built-in fetch sends "node").
var exactBots = map[string]string{"node": "Node.js", "undici": "Node.js", "-": ""}

// Parse classifies ua. An empty User-Agent is a bot: every browser sends
// one.
func (p *UAParser) Parse(ua string) Agent {
	if strings.TrimSpace(ua) == "" {
		return Agent{Device: DeviceBot, Bot: true}
	}
	lower := strings.ToLower(ua)
	r := p.p.Parse(ua)
	a := Agent{Browser: string(r.Browser()), OS: osName(r.OS())}
	switch r.Device() {
	case agents.DeviceDesktop:
		a.Device = DeviceDesktop
	case agents.DeviceMobile:
		a.Device = DeviceMobile
		// Android tablets leave "Mobile" out of the User-Agent.
		if a.OS == "Android" && !strings.Contains(lower, "mobile") {
			a.Device = DeviceTablet
		}
	case agents.DeviceTablet:
		a.Device = DeviceTablet
	case agents.DeviceBot:
		a.Bot = true
	default:
		a.Device = DeviceOther
	}
	switch {
	case strings.Contains(ua, "FBAN/") || strings.Contains(ua, "FBAV/"):
		a.Browser = "Facebook"
	case strings.Contains(ua, " Instagram "):
		a.Browser = "Instagram"
	}
	if name, ok := exactBots[lower]; ok {
		a.Bot, a.Browser = true, name
	}
	for _, t := range botTokens {
		if strings.Contains(lower, t.sub) {
			a.Bot = true
			if t.name != "" {
				a.Browser = t.name
			}
			break
		}
	}
	if !a.Bot && hasBotWord(lower) {
		a.Bot = true
	}
	// A client that is not a browser (no Mozilla/ token, or "compatible;"
	// with no browser found) is a program fetching the link, not a person.
	if !a.Bot && a.Browser == "" && (!strings.HasPrefix(lower, "mozilla/") || strings.Contains(lower, "compatible;")) {
		a.Bot = true
	}
	if a.Bot {
		a.Device = DeviceBot
		if r.Device() == agents.DeviceBot && a.Browser == string(r.Browser()) {
			// The library names the engine the bot imitates ("Chrome"
			// for Googlebot's smartphone crawler); that is not a browser.
			a.Browser = ""
		}
	}
	return a
}

// hasBotWord reports whether s contains "bot" other than in "cubot".
func hasBotWord(s string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], "bot")
		if j < 0 {
			return false
		}
		j += i
		if j < 2 || s[j-2:j] != "cu" {
			return true
		}
		i = j + 3
	}
}

func osName(o agents.OS) string {
	if o == agents.OSMacOS {
		return "macOS"
	}
	return string(o)
}
