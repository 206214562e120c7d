app_name = "parks"
urlpatterns: list = []  # pages added by the register views
