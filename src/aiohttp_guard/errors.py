"""The earlier import path of the error handlers, which live in `refusals`."""

from .refusals import DefaultErrorHandler, ErrorHandler, preferred_format

__all__ = ["DefaultErrorHandler", "ErrorHandler", "preferred_format"]
