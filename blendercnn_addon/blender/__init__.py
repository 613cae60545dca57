"""Everything that needs Blender: every module that imports ``bpy``, ``bmesh``, ``mathutils``, ``blf`` or
``gpu`` lives in this folder, and nothing outside it imports from here except the command line's
rendering commands, inside their handlers (tests/fast/test_layers.py states the rule).

- Rendering a dataset: ``renderer`` (every bpy call an image needs), ``generator`` (the job),
  ``render_worker`` and ``ray_backend`` (the worker processes), ``scene_setup`` (the seed's scene),
  ``compat`` (what differs between the Blender versions supported).
- The add-on in the window: ``registration``, ``properties``, ``preferences``, ``operators/``,
  ``ui/``, ``background`` (the one timer that hands worker messages to sessions) and the sessions
  beside it, ``images`` (the image datablocks the add-on owns), ``paths``, ``status_bar``.
"""
