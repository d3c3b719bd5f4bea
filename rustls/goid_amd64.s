//go:build gc

#include "textflag.h"

// func getg() uintptr
// The goroutine descriptor sits in thread-local storage (ABI0 code).
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET
