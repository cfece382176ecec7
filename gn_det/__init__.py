from . import compat

compat.apply()
