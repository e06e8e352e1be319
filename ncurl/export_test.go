package ncurl

// ParseURL exposes the URL check for the fuzz test.
var ParseURL = parseURL
