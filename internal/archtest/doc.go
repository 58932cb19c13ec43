// Package archtest holds the import-direction test: docs/architecture.md
// declares the layers (a fenced "layers" block), and TestImportGraph fails
// when the packages' real imports (go list) break them. It has no code of
// its own.
package archtest
