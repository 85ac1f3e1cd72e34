"""The interpreter: kernels (`kernels`), their op cases generated from the op table
(`cases`, written by `codegen`), and raw row addresses (`addresses`)."""
