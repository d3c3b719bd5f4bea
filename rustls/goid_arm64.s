//go:build gc

#include "textflag.h"

// func getg() uintptr
// arm64 Go code keeps the goroutine descriptor in the g register (R28).
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVD g, R0
	MOVD R0, ret+0(FP)
	RET
