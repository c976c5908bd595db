// Package browsertest drives the dashboard of a real bin/emqx in Debian's chromium, headless,
// with chromedp: the flows of the console (log in, clients, kick, plugins, retained messages,
// the WebSocket tool against mosquitto_pub and mosquitto_sub) at 1280 and 390 px, with no
// console error allowed, and a screenshot of each page (the test's artifact directory, or
// $DASHBOARD_SHOTS). It has only tests; this file holds the package's documentation.
package browsertest
