//! The jitter buffer (sans-IO): being written (issue 4).
