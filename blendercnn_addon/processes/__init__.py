"""The process machinery, Blender-free and TensorFlow-free: the JSON-lines protocol between a
coordinator and its workers (``protocol``, ``frames``), running them (``workers``), a pool of local
render processes (``parallel``), and finding or creating the Python that runs TensorFlow
(``interpreter``)."""
