"""Infrastructure at the edge: AWS clients, the buckets, the terraform binary and env roots, the emulator."""
