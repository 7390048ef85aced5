"""What the running panel tells its operators: Prometheus metrics and the log context.

It depends on prometheus_client and the standard library only, so that every layer (core,
providers, scheduler, bot) can record into it without importing another.
"""
