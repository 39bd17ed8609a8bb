# Kernel tests: each compares kernels against naive references over many shapes.
