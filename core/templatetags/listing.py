"""Template helpers for register lists: sortable column headers that keep the current filters."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_header(context, key, label, param="ordering"):
    """A column header link sorting by `key`; clicking the sorted column again reverses the order.

    Keeps every other query parameter except the page (a new order starts at page 1).
    """
    request = context["request"]
    current = request.GET.get(param, "")
    if current == key:
        target, arrow = f"-{key}", " ▲"
    elif current == f"-{key}":
        target, arrow = key, " ▼"
    else:
        target, arrow = key, ""
    params = request.GET.copy()
    params[param] = target
    params.pop("page", None)
    return format_html(
        '<a class="link-dark text-decoration-none" href="?{}">{}{}</a>',
        params.urlencode(),
        label,
        arrow,
    )


@register.filter
def page_numbers(page_obj):
    """Page numbers around the current page, with Paginator.ELLIPSIS for the gaps."""
    return page_obj.paginator.get_elided_page_range(page_obj.number, on_each_side=2, on_ends=1)


@register.filter
def invalid_aware(bound_field):
    """Render a field's widget, marked `is-invalid` when it has errors (Bootstrap shows it red)."""
    if not bound_field.errors:
        return bound_field.as_widget()
    css = bound_field.field.widget.attrs.get("class", "")
    return bound_field.as_widget(attrs={"class": f"{css} is-invalid".strip()})
