package oidcconnector

import "embed"

// docs are the operator documentation (README.md) and the logo (logo.svg), files
// beside the code so that they read well on their own; the metadata carries them.
//
//go:embed README.md logo.svg
var docs embed.FS
