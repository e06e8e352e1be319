package transport

// CodeOf exposes the error classification to the black-box tests.
var CodeOf = codeOf
