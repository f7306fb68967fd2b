"""The library the mmapcheck checks sit on: libc bindings, the isolated runner,
the platform fingerprint, probes and the reference IPC channel."""
