"""make repo: a static extensions repository that Blender installs the add-on from, and updates it from.

Run as a user does it in Preferences ▸ Get Extensions ▸ Repositories ▸ + ▸ Add Remote Repository, with
Blender's own operators (extension_repo_add, repo_sync, package_install, package_upgrade_all), in a
fresh bpy process with its own user folder (this session's Blender already has the add-on installed
from its zip)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.compat  # every Blender the extension supports (passed on 4.2.23, 4.5.15, 5.0.1, 5.3.0)

USER = r"""
import json, os, sys
import bpy
prefs = bpy.context.preferences
prefs.system.use_online_access = True  # Preferences > System > Network > Allow Online Access
url = sys.argv[1]
repos = prefs.extensions.repos
if not any(repo.remote_url == url for repo in repos):
    assert bpy.ops.preferences.extension_repo_add(name="BlenderCNN", remote_url=url, type="REMOTE") == {"FINISHED"}
index = next(i for i, repo in enumerate(repos) if repo.remote_url == url)
assert bpy.ops.extensions.repo_sync(repo_index=index) == {"FINISHED"}
module = f"bl_ext.{repos[index].module}.blendercnn_addon"
if sys.argv[2] == "install":
    done = bpy.ops.extensions.package_install(repo_index=index, pkg_id="blendercnn_addon", enable_on_install=True)
else:  # Extensions > Update All; the bpy module starts without the saved preferences: enabled again here
    done = bpy.ops.extensions.package_upgrade_all()
    bpy.ops.preferences.addon_enable(module=module)
manifest = os.path.join(repos[index].directory, "blendercnn_addon", "blender_manifest.toml")
version = next(line.split('"')[1] for line in open(manifest) if line.startswith("version ="))
print(json.dumps({"done": sorted(done), "enabled": module in prefs.addons,
                  "operators": hasattr(bpy.types, "BLENDERCNN_OT_generate_dataset"), "version": version}))
"""


def as_a_user(user_folder: str, url: str, action: str) -> dict:
    """One Blender session (the bpy module) of the user whose folder is ``user_folder``."""
    done = subprocess.run([sys.executable, "-c", USER, url, action], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BLENDER_USER_RESOURCES": user_folder})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_blender_installs_the_add_on_from_the_repository_and_updates_it(extension_zip, tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from build_extension import build
    from build_repository import build_repository

    repo, user = tmp_path / "repo", str(tmp_path / "user")
    index = build_repository(str(repo), extension_zip)
    listed = json.loads(open(index).read())["data"]
    assert [(entry["id"], entry["version"]) for entry in listed] == [("blendercnn_addon", "0.1.0")]
    assert (repo / "index.html").is_file()
    url = "file://" + index
    installed = as_a_user(user, url, "install")
    assert installed == {"done": ["FINISHED"], "enabled": True, "operators": True, "version": "0.1.0"}
    index = build_repository(str(repo), build(str(tmp_path / "newer"), version="0.1.1"))  # the next release
    assert [entry["version"] for entry in json.loads(open(index).read())["data"]] == ["0.1.1"]
    updated = as_a_user(user, url, "update")  # the same user, Blender started again
    assert updated["version"] == "0.1.1" and updated["enabled"] and updated["operators"]
