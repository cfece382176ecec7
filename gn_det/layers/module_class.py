"""The one way gn_det changes what a built module does: by its class, never by replacing it.

detectron2's forwards reach many children through plain Python lists and attributes besides the
module registry (``FPN.lateral_convs`` / ``output_convs``, ``ResNet.stages``, a head's
``conv_norm_relus``). Replacing a child in the registry (``setattr(parent, name, new)``) leaves
those holding the old module, whose forward then still runs. Changing the class of the existing
object instead (as ``torch.nn.utils.parametrize`` does) reaches every reference at once and keeps
parameters, buffers, hooks and state dict keys.
"""


def convert_class(module, subclass):
    """Give ``module`` the class ``subclass``, in place, and return it.

    ``subclass`` must subclass ``type(module)`` and change only methods (no new ``__init__``
    state), so the object stays a valid instance of it.
    """
    if not issubclass(subclass, type(module)):
        raise TypeError(f"gn_det: error: cannot convert a {type(module).__name__} to "
                        f"{subclass.__name__}, which is not a subclass of it.")
    module.__class__ = subclass
    return module
