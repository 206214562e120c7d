from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class RegionAwareModelBackend(ModelBackend):
    """Loads the user with region and department in the same query: every page needs both."""

    def get_user(self, user_id):
        User = get_user_model()
        try:
            user = User._default_manager.select_related("region", "department").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
