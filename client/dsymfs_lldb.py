"""lldb commands for live dSYMs served by dsymfs.

    (lldb) command script import PREFIX/share/dsymfs/dsymfs_lldb.py
    (lldb) target create prog
    (lldb) dsymfs reload     # load the newest generation of every dsymfs image of the target
    (lldb) dsymfs status     # generation loaded vs newest, per image

A module of the current target belongs to a dsymfs image when its UUID is the image's:
every dsymfs mount in /proc/self/mountinfo is asked (MOUNT/status). lldb never rereads a
path it has loaded, so `reload` names the generation's own stable path,
MOUNT/images/NAME/generations/N/NAME.dSYM/Contents/Resources/DWARF/NAME, and lldb
replaces the module's debug info with it. Put the import line in ~/.lldbinit to have the
commands in every session.
"""
import os
import re
import shlex

import lldb

USAGE = "usage: dsymfs reload | dsymfs status"


def _unescape(field):
    """mountinfo writes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-3][0-7]{2})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(mountinfo="/proc/self/mountinfo"):
    """Mount points of dsymfs file systems (type fuse.dsymfs), in mount order."""
    found = []
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) > sep + 1 and fields[sep + 1] == "fuse.dsymfs":
            found.append(_unescape(fields[4]))
    return found


def images(mount):
    """{name: (uuid, newest generation)} from MOUNT/status; {} if it cannot be read."""
    out = {}
    try:
        with open(os.path.join(mount, "status")) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        words = line.split()
        if not words or words[0].endswith(":"):
            continue  # limits:, journal: lines
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if "uuid" in kv and "generation" in kv:
            out[words[0]] = (kv["uuid"], int(kv["generation"]))
    return out


def _norm(uuid):
    return uuid.replace("-", "").upper()


def served():
    """{UUID without dashes, upper case: (mount, name, newest generation)} over every
    mount; the first mount wins when two serve the same UUID."""
    out = {}
    for mount in mounts():
        for name, (uuid, gen) in images(mount).items():
            out.setdefault(_norm(uuid), (mount, name, gen))
    return out


def generation_path(mount, name, gen):
    return os.path.join(mount, "images", name, "generations", str(gen),
                        name + ".dSYM", "Contents", "Resources", "DWARF", name)


def loaded_generation(module, mount, name):
    """The generation a module's debug info was read from: a number when it came from
    generations/N/, "current" when from MOUNT/NAME.dSYM (or a link to it: whichever
    generation was current then), None when it is not the mount's."""
    spec = module.GetSymbolFileSpec()
    path = spec.fullpath if spec and spec.IsValid() else None
    if not path:
        return None
    real = os.path.realpath(path)
    m = re.fullmatch(re.escape(os.path.join(mount, "images", name, "generations")) +
                     r"/(\d+)/.*", real)
    if m:
        return int(m.group(1))
    if real.startswith(os.path.join(mount, name + ".dSYM") + "/"):
        return "current"
    return None


def _dsymfs_modules(target):
    """(module, mount, name, newest) for every module of target that a mount serves."""
    images_by_uuid = served()
    for i in range(target.GetNumModules()):
        module = target.GetModuleAtIndex(i)
        hit = images_by_uuid.get(_norm(module.GetUUIDString() or ""))
        if hit:
            yield (module,) + hit


def _describe(gen):
    if gen is None:
        return "not loaded from dsymfs"
    if gen == "current":
        return "loaded from the current bundle (generation unknown)"
    return "generation %d loaded" % gen


def reload(debugger, target, result):
    found = False
    for module, mount, name, newest in _dsymfs_modules(target):
        found = True
        had = loaded_generation(module, mount, name)
        if had == newest:
            result.AppendMessage("%s: generation %d already loaded" % (name, newest))
            continue
        path = generation_path(mount, name, newest)
        ret = lldb.SBCommandReturnObject()
        debugger.GetCommandInterpreter().HandleCommand(
            "target symbols add " + shlex.quote(path), ret)
        if not ret.Succeeded():
            result.SetError("%s: cannot load generation %d from %s: %s" %
                            (name, newest, path, (ret.GetError() or "").strip()))
            return
        result.AppendMessage("%s: generation %d loaded (was: %s) from %s" %
                             (name, newest, _describe(had), path))
    if not found:
        _none_found(target, result)


def status(target, result):
    found = False
    for module, mount, name, newest in _dsymfs_modules(target):
        found = True
        had = loaded_generation(module, mount, name)
        line = "%s (%s): %s, newest %d" % (name, mount, _describe(had), newest)
        if had != newest:
            line += "; `dsymfs reload` loads it"
        result.AppendMessage(line)
    if not found:
        _none_found(target, result)


def _none_found(target, result):
    served = ", ".join(mounts()) or "none"
    uuids = ", ".join(filter(None, (target.GetModuleAtIndex(i).GetUUIDString()
                                    for i in range(target.GetNumModules())))) or "none"
    result.SetError("no dsymfs image has the UUID of a module of this target "
                    "(module UUIDs: %s; dsymfs mounts: %s)" % (uuids, served))


def dsymfs_command(debugger, command, exe_ctx, result, internal_dict):
    args = shlex.split(command)
    if len(args) != 1 or args[0] not in ("reload", "status"):
        result.SetError(USAGE)
        return
    target = exe_ctx.GetTarget()
    if not target or not target.IsValid():
        result.SetError("no target: create one first (target create EXE)")
        return
    if args[0] == "reload":
        reload(debugger, target, result)
    else:
        status(target, result)


def __lldb_init_module(debugger, internal_dict):
    debugger.HandleCommand('command script add -h "%s" -f %s.dsymfs_command dsymfs' %
                           (USAGE, __name__))
