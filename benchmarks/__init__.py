"""Speed and memory benchmarks: `python -m benchmarks.<name>` prints medians and ratios measured side by side."""
