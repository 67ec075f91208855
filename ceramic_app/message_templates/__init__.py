"""Message templates: named blocks whose content references profile fields as {{ key }}.

The package is not called "templates" so that it does not clash with Reflex
page templates.
"""
