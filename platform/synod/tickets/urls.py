from django.urls import path

from synod.tickets import views

app_name = "tickets"

urlpatterns = [
    path("tickets/", views.tickets_page, name="page"),
    path("tickets/balances", views.balances_partial, name="balances"),
    path("tickets/quote", views.quote_partial, name="quote"),
    path("tickets/buy-call", views.buy_call, name="buy-call"),
    path("tickets/deposit/permit", views.deposit_permit, name="deposit-permit"),
    path("tickets/deposit/approve-call", views.approve_call, name="approve-call"),
    path("tickets/deposit/call", views.deposit_call, name="deposit-call"),
    path("tickets/withdrawal/request-call", views.request_withdrawal_call, name="request-call"),
    path("tickets/withdrawal/complete-call", views.complete_withdrawal_call, name="complete-call"),
    path("tickets/claim-call", views.claim_call, name="claim-call"),
    path("tickets/explain", views.explain, name="explain"),
    path("tickets/sync", views.sync, name="sync"),
    path("tickets/allowance/typed-data", views.allowance_typed_data, name="allowance-typed-data"),
    path("tickets/allowance", views.allowance_submit, name="allowance-submit"),
    path("tickets/allowance/status", views.allowance_status, name="allowance-status"),
    path("tickets/allowance/figures", views.allowance_figures, name="allowance-figures"),
    path("usage/", views.usage_page, name="usage"),
    path("usage/export.csv", views.usage_csv, name="usage-csv"),
    path("usage/batches/<int:number>/proofs.json", views.batch_proofs, name="batch-proofs"),
]
