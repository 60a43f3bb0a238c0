from django.urls import path

from synod.governance import apis

urlpatterns = [
    path("proposals", apis.ProposalListApi.as_view(), name="api-proposals"),
    path("proposals/<str:proposal_id>", apis.ProposalDetailApi.as_view(), name="api-proposal"),
]
