from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from eth_utils import is_address, to_checksum_address
from rest_framework_api_key.admin import APIKeyModelAdmin

from synod.accounts.models import SiweNonce, User, UserAPIKey


class UserAddForm(forms.ModelForm):
    """Adds a wallet user by address; they sign in with their wallet, never a password."""

    class Meta:
        model = User
        fields = ("address",)

    def clean_address(self) -> str:
        address = self.cleaned_data["address"]
        if not is_address(address):
            raise forms.ValidationError("Enter a 20-byte hex address (0x…).")
        return to_checksum_address(address)

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserAddForm
    ordering = ("-date_joined",)
    list_display = ("address", "is_staff", "is_active", "date_joined", "last_login")
    search_fields = ("address",)
    list_filter = ("is_staff", "is_superuser", "is_active")
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("address", "password")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("address",)}),)
    filter_horizontal = ("groups",)


@admin.register(UserAPIKey)
class UserAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "user", "last_used_at")
    search_fields = (*APIKeyModelAdmin.search_fields, "user__address")
    raw_id_fields = ("user",)


@admin.register(SiweNonce)
class SiweNonceAdmin(admin.ModelAdmin):
    list_display = ("value", "created_at", "expires_at", "used_at")
    readonly_fields = ("value", "created_at", "expires_at", "used_at")
