"""Measurement probes: clocks, memory, FLOPs and the machine's matmul peak, the environment.

Each probe says in its name what it sees (``peak_tracemalloc_mb`` sees the Python heap and NumPy,
not torch's allocator; ``peak_rss_mb`` sees the whole process; ``cuda_peak_mb`` sees the device),
and figures of different kinds are never put against each other.
"""
