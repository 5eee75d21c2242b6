package analytics

import "testing"

// uaCases are real User-Agent strings: browsers people use, and the
// automated clients a short link meets (crawlers, link previews of chat
// apps and social networks, monitoring, headless browsers, HTTP libraries).
// The benchmarks use them as a realistic mix.
var uaCases = []struct {
	ua      string
	browser string
	os      string
	device  string
	bot     bool
}{
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "Windows", DeviceDesktop, false},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "macOS", DeviceDesktop, false},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15", "Safari", "macOS", DeviceDesktop, false},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox", "Windows", DeviceDesktop, false},
	{"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox", "Linux", DeviceDesktop, false},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80", "Edge", "Windows", DeviceDesktop, false},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "Safari", "iOS", DeviceMobile, false},
	{"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Safari", "iOS", DeviceTablet, false},
	{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome", "Android", DeviceMobile, false},
	{"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", "Samsung Browser", "Android", DeviceMobile, false},
	{"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "Android", DeviceTablet, false},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", "Chrome", "iOS", DeviceMobile, false},
	{"Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "Firefox", "Android", DeviceMobile, false},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0", "Opera", "Windows", DeviceDesktop, false},
	{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "ChromeOS", DeviceDesktop, false},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.38.108;FBBV/590432785;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]", "Facebook", "iOS", DeviceMobile, false},
	{"Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 Instagram 300.0.0.29.110 Android (33/13; 420dpi; 1080x2400; Google/google; Pixel 7; panther; panther; en_US; 514327624)", "Instagram", "Android", DeviceMobile, false},
	{"Mozilla/5.0 (Linux; Android 12; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome", "Android", DeviceMobile, false},

	{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "", DeviceBot, true},
	{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "Android", DeviceBot, true},
	{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Bingbot", "", DeviceBot, true},
	{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Facebook", "", DeviceBot, true},
	{"Twitterbot/1.0", "Twitter", "", DeviceBot, true},
	{"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", "LinkedIn", "", DeviceBot, true},
	{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack", "", DeviceBot, true},
	{"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "Discord", "", DeviceBot, true},
	{"TelegramBot (like TwitterBot)", "Telegram", "", DeviceBot, true},
	{"WhatsApp/2.23.20.0 A", "WhatsApp", "", DeviceBot, true},
	{"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com", "Skype", "Windows", DeviceBot, true},
	// iMessage's link preview.
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0", "Facebook", "macOS", DeviceBot, true},
	{"Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)", "Bluesky", "", DeviceBot, true},
	{"Mastodon/4.2.8 (http.rb/5.1.1; +https://mastodon.social/)", "Mastodon", "", DeviceBot, true},
	{"Pinterest/0.2 (+https://www.pinterest.com/bot.html)", "Pinterest", "", DeviceBot, true},
	{"curl/8.5.0", "curl", "", DeviceBot, true},
	{"Go-http-client/1.1", "Go", "", DeviceBot, true},
	{"python-requests/2.31.0", "python-requests", "", DeviceBot, true},
	{"Wget/1.21.4", "Wget", "", DeviceBot, true},
	{"okhttp/4.12.0", "OkHttp", "", DeviceBot, true},
	{"axios/1.6.8", "Node.js", "", DeviceBot, true},
	{"node", "Node.js", "", DeviceBot, true},
	{"Java/17.0.2", "Java", "", DeviceBot, true},
	{"Apache-HttpClient/4.5.14 (Java/17.0.9)", "Java", "", DeviceBot, true},
	{"Python/3.11 aiohttp/3.9.3", "Python", "", DeviceBot, true},
	{"HTTPie/3.2.2", "HTTPie", "", DeviceBot, true},
	{"Scrapy/2.11.1 (+https://scrapy.org)", "Scrapy", "", DeviceBot, true},
	{"Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.1", "PowerShell", "Windows", DeviceBot, true},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36", "Headless Chrome", "Linux", DeviceBot, true},
	{"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse", "Lighthouse", "Android", DeviceBot, true},
	{"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "UptimeRobot", "", DeviceBot, true},
	{"Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "Pingdom", "", DeviceBot, true},
	{"Datadog/Synthetics", "Datadog", "", DeviceBot, true},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", "Applebot", "macOS", DeviceBot, true},
	{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", "GPTBot", "", DeviceBot, true},
	{"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "Yandex", "", DeviceBot, true},
	{"Mozilla/5.0 (compatible; SomeNewCrawler/0.1)", "", "", DeviceBot, true},
	{"", "", "", DeviceBot, true},
}

func TestUAParser(t *testing.T) {
	p := NewUAParser()
	for _, tt := range uaCases {
		got := p.Parse(tt.ua)
		want := Agent{Browser: tt.browser, OS: tt.os, Device: tt.device, Bot: tt.bot}
		if got != want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.ua, got, want)
		}
	}
}
