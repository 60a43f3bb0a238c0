from django.urls import path

from synod.governance import views

app_name = "governance"

urlpatterns = [
    path("", views.proposal_list, name="list"),
    path("new/<str:kind>/", views.proposal_new, name="new"),
    path("sync", views.sync, name="sync"),
    path("<str:council>/<str:proposal_id>/", views.proposal_detail, name="detail"),
    path("<str:council>/<str:proposal_id>/live", views.proposal_live, name="live"),
    path("<str:council>/<str:proposal_id>/vote-call", views.vote_call, name="vote-call"),
    path("<str:council>/<str:proposal_id>/ballot", views.ballot, name="ballot"),
    path("<str:council>/<str:proposal_id>/relay", views.relay, name="relay"),
    path("<str:council>/<str:proposal_id>/queue-call", views.queue_call, name="queue-call"),
    path("<str:council>/<str:proposal_id>/execute-call", views.execute_call, name="execute-call"),
]
