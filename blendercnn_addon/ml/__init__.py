"""Blender-free machine learning: data loading, models, training, evaluation, inference.

Nothing in this package may import ``bpy``: it runs in the training subprocess,
in any Python that has TensorFlow, numpy and pillow.
"""
