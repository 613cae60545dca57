"""Operators under ``bpy.ops.blendercnn.*``: thin Blender wrappers over the Blender-free core."""

from . import dataset_ops, environment_ops, parameter_ops, preview_ops, scene_ops, train_ops

CLASSES = (scene_ops.CLASSES + parameter_ops.CLASSES + dataset_ops.CLASSES + train_ops.CLASSES + preview_ops.CLASSES
           + environment_ops.CLASSES)
