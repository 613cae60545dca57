"""Sidebar panels (ui/panels.py, classes ``BLENDERCNN_PT_*``) and what they share with the preferences
(ui/interpreter.py). Nothing is imported here, so a module can use one without loading the others."""
