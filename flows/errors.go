package flows

import "errors"

// ErrRejected is returned by Registry.Reload when the flow files have at
// least one error: the previous set keeps serving.
var ErrRejected = errors.New("flows: reload rejected, previous flows keep serving")

// ErrNoDir is returned when the flow directory cannot be read.
var ErrNoDir = errors.New("flows: cannot read flow directory")

// ErrNoFlows is returned by Registry.Reload when the directory holds no flow
// file (deleted by mistake?): the previous set keeps serving.
var ErrNoFlows = errors.New("flows: no flow files")
