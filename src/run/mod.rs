//! Stage 3: executes a compiled plan.
