"""BlenderCNN: a vector -> image deep-learning workbench inside Blender.

This file must stay importable without ``bpy``: the training subprocess and
``python -m blendercnn_addon ...`` import this package in a plain Python
with TensorFlow. So Blender registration is imported lazily, inside
:func:`register`. Where things live: the contracts at the top level, ``processes/`` (workers and
their protocol), ``ml/`` (TensorFlow), ``blender/`` (everything that needs Blender), ``cli/``.
"""


def register():
    from .blender import registration
    from .cli import blender_command

    registration.register(cli_command=blender_command)


def unregister():
    from .blender import registration

    registration.unregister()
