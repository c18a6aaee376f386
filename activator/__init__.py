"""kwake's gateway: the ingress and the activator in one hop (README.md).

The request path's modules may be compiled (setup.py); `native` picks compiled or pure Python
before any of them is imported.
"""

from activator import native

native.choose()
