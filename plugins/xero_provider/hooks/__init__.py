"""Hooks: :class:`XeroHook` for tasks, :class:`XeroAsyncHook` for triggers."""

from xero_provider.hooks.xero import XeroAsyncHook, XeroHook

__all__ = ["XeroAsyncHook", "XeroHook"]
