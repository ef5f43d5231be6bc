"""jaxdl: the first chapters of Dive into Deep Learning as pure, jitted, tested JAX."""
