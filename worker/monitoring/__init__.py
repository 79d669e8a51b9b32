"""What operators read: heartbeats workers write, Prometheus metrics, the health report."""
