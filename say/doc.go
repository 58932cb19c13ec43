// Package say turns values into the names of the prompt fragments that say
// them, in a language's own grammar (English, Vietnamese, Thai): cardinal
// numbers ("twenty one", "hai mươi mốt", "ยี่สิบเอ็ด"), digit strings read one by one, clock times ("two oh five
// p.m.", "mười bốn giờ năm phút") and days ("tomorrow", "thứ Hai").
//
// It is pure logic with no I/O: it returns names such as "number-20" and
// "number-1-final"; the caller resolves them in its prompt library
// (prompts/<lang>/<name>.wav, generated from prompts/prompts.txt). Every
// language has the same fragment names (Fragments), so a flow declaring
// several languages finds each one in each; a language's grammar decides
// which of them it uses. A language without a grammar of its own is said
// with the English one (Supported reports which have one).
//
// The IVR's callback dialogue uses it for positions, number endings and
// "we will call you back from 08:00"; the callback greeting for "about your
// call at 14:05"; a `say` flow node can use Value. docs/say.md.
package say
