app_name = "enterprises"
urlpatterns: list = []  # pages added by the register views
