"""The one exception type that carries a message meant for the user.

Anything raised as :class:`UserError` is shown as-is: in Blender through
``self.report({'ERROR'}, str(err))``, on the command line as one line on stderr
with a non-zero exit code. Other exceptions are bugs and keep their traceback.
"""


class UserError(Exception):
    """Bad input or an environment problem the user can fix; ``str()`` is the message."""
