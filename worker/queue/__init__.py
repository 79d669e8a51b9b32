"""Everything Dramatiq: the broker, the actors, our middleware, dead letters, launching.

The only package that imports Dramatiq. ``broker`` builds a broker without touching the
global one, so producers can enqueue; ``actors`` declares one actor per operation and is
what worker processes load; ``launch`` says how those processes are started. Key and
queue names come from ``worker.keys``.
"""
