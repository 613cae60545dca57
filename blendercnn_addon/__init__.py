"""BlenderCNN: a vector -> image deep-learning workbench inside Blender.

This file must stay importable without ``bpy``: the training subprocess and
``python -m blendercnn_addon.ml ...`` import this package in a plain Python
with TensorFlow. So Blender registration is imported lazily, inside
:func:`register`.
"""


def register():
    from . import registration

    registration.register()


def unregister():
    from . import registration

    registration.unregister()
