# Stepgate's pages, in English: the complete catalogue. Every other language is a copy of
# this file, translated, in its own folder (idp/locales/<tag>/main.ftl); a message missing
# there falls back to this one, and the test suite refuses the build until it is added.
# Syntax: https://projectfluent.org/fluent/guide/ — { $name } is an argument.

## Providers, as people name them (one place for every page)

provider-TOTP = Authenticator app
provider-SMS = SMS
provider-EMAIL = Email
provider-WEBAUTHN = Passkey
provider-BACKUP_CODE = Backup codes

## Shared

nav-home = Home
nav-account-security = Account security
sign-in-again = Sign in again
error-continue = Continue
passkey-unsupported = This browser cannot use passkeys.
passkey-failed = The passkey was not used. Try again, or choose another way.
choose-method = Choose a method.
choose-verification-method = Choose a verification method.
too-many-attempts-wait = Too many attempts. Wait { $seconds } seconds and try again.
too-many-attempts-later = Too many attempts. Wait a while and try again.
code-sent-recently = A code was sent recently. Wait { $seconds } seconds before asking for another.
code-sent-recently-later = A code was sent recently. Wait a little before asking for another.
passkey-sign-in-again = Sign in again first, then add the passkey.
account-disabled = This account is disabled.
col-when = When
col-event = Event
col-method = Method
col-via = Via
col-from = From
col-default = Default
col-destination = Destination
col-enabled = Enabled
col-changed = Changed
col-added = Added
col-last-used = Last used
col-actions = Actions

## Sign in

sign-in-title = Sign in
sign-in-to-continue = to continue to
sign-in-username = Username
sign-in-password = Password
sign-in-button = Sign in
sign-in-or = or
sign-in-passkey = Sign in with a passkey
sign-in-bad-credentials = Invalid username or password.
this-account-locked = This account is locked after too many failed verification attempts. Ask an administrator to unlock it.
passwordless-refused = That passkey was not accepted. Sign in with your username and password.
passwordless-unavailable = Signing in with a passkey alone is not available here. Sign in with your username and password.

## Second factor

second-factor-title = Verify it's you
second-factor-use-passkey = Use your passkey
second-factor-passkey-noscript = A passkey needs JavaScript. Try another way below.
second-factor-verify = Verify
second-factor-resend = Resend code
second-factor-another-way = Try another way
second-factor-you = you
prompt-totp = Enter the 6-digit code from your authenticator app
prompt-sms = Enter the 6-digit code we sent to { $to } by SMS
prompt-email = Enter the 6-digit code we sent to { $to } by email
prompt-backup-code = Enter one of your 8-digit backup codes
prompt-passkey = Use your passkey or security key
alt-totp = Use your authenticator app
alt-sms = Send a code by SMS to { $to }
alt-email = Send a code by email to { $to }
alt-backup-code = Use a backup code
alt-passkey = Use your passkey
your-account-locked = Your account is locked after too many failed verification attempts. Ask an administrator to unlock it.
verification-time-up = The time allowed for verification has run out. Sign in again.
verification-finished = This verification is already finished. Sign in again.
sign-in-expired = Your sign-in has expired. Sign in again.
send-failed = We could not send the code. Try again later, or try another way.
method-unavailable = That verification method is not available for your account.
no-second-factor-left = No second factor is available for your account any more. Ask your administrator.
passkey-only-here = Your only second factor is a passkey, which cannot be used here. Add an authenticator app or backup codes on your account page.
code-sent-to = We sent a code to { $to }.
code-sent = We sent you a code.
code-wrong = That code is not right. Try again.
code-wrong-attempts = That code is not right. { $n ->
    [one] { $n } attempt left
   *[other] { $n } attempts left
} before the account is locked.
passkey-wrong = That passkey was not accepted. Try again.
passkey-wrong-attempts = That passkey was not accepted. { $n ->
    [one] { $n } attempt left
   *[other] { $n } attempts left
} before the account is locked.

## Home and sign out

home-signed-in-title = Signed in
home-signed-in-as = You are signed in as
home-account-hint = (second factors, password, recent sign-ins)
home-not-signed-in = You are not signed in.
sign-out-title = Sign out
sign-out-button = Sign out
sign-out-done-title = Signed out
sign-out-done = You have been signed out.
sign-out-ask-title = Sign out?
sign-out-client-asks = { $client } asks you to sign out of { $brand }.
sign-out-ask = Do you want to sign out of { $brand }?

## Error pages

err-not-found-title = Not found
err-not-found = There is no page at this address.
err-internal-title = Something went wrong
err-internal = The server could not complete the request. Please try again later.
err-form-expired-title = This form has expired
err-form-expired = The page was open too long or came from another site. Go back, reload the page and try again.
err-request-title = This sign-in request cannot be completed
err-param-repeated = The parameter { $name } is repeated.
err-no-client-id = The request names no client (client_id is missing).
err-client-unknown = The application that sent you here is not registered.
err-no-redirect-uri = The request has no redirect_uri.
err-redirect-uri-unknown = The redirect_uri is not registered for this application.
err-sign-in-expired-title = This sign-in has expired
err-sign-in-expired = Go back to the application you came from and sign in again.
err-sign-in-incomplete-title = This sign-in cannot be completed
err-client-removed = The application was removed while you were signing in.
err-sign-out-title = Sign-out cannot continue
err-post-logout-unknown = The address to return to after signing out is not registered for this application.
err-a-param-repeated = A parameter is repeated.
err-id-token-hint = The id_token_hint is not an ID token issued here.
err-admins-only-title = Administrators only
err-admins-only = This page is for administrators. Your account does not have that role.
err-no-such-user = There is no such user.
err-no-such-group = There is no such group.
err-no-such-host = There is no such host.
err-no-such-client = There is no such client.
err-no-such-passkey = There is no such passkey.
err-no-such-group-member = The user is not a member of this group.

## Account security

account-title = Account security
account-nav-label = Account
account-enrol-title = Set up two-factor authentication
account-enrol-required = Signing in requires a second factor. Set one up to continue.
account-enrol-someone-else = Sign in as someone else
account-enrol-first-title = Finish setting up a second factor first
account-enrol-first = Set up a second factor to finish signing in.
account-signed-in-as = Signed in as
account-reauth-title = Confirm it's you
account-reauth-needed = Changing how you sign in needs a recent sign-in, within the last { $minutes } minutes. Nothing was changed.
account-reauth-needed-2fa = Changing how you sign in needs a recent sign-in with your password and a second factor, within the last { $minutes } minutes. Nothing was changed.
account-codes-title = Your backup codes
account-codes-intro = Each code works once. Keep them somewhere safe: they are shown only now.
account-codes-download = Download (.txt)
account-codes-file = { $brand } backup codes. Each code works once.
account-codes-print = Print
account-totp-title = Set up your authenticator app
account-totp-intro = Scan this QR code with your authenticator app, or type the key by hand.
account-totp-key = Key:
account-totp-code = 6-digit code from the app
account-verify-turn-on = Verify and turn on
account-sent-title = Enter the code we sent
account-sent-to = We sent a 6-digit code to { $to }.
account-sent-code = Code
account-methods-title = Two-factor methods
account-methods-none = No second factor is offered on this platform.
account-on = On
account-off = Off
account-default = Default
account-changed = changed { $when }
account-backup-left = { $n ->
    [one] { $n } backup code left
   *[other] { $n } backup codes left
}
account-use-default = Use by default
account-regenerate-codes = Regenerate backup codes
account-turn-off = Turn off
account-turn-off-named = Turn off { $name }
account-your-password = Your password
account-totp-start = Set up authenticator app
account-phone = Phone number (international format, like +15551234567)
account-email = Email address
account-send-code = Send a code
account-backup-needs-primary = Set up another method first: backup codes cannot be your only second factor.
account-generate-codes = Generate backup codes
account-passkey-added = added { $when }
account-passkey-last-used = last used { $when }
account-passkey-never-used = never used
account-passkey-discoverable = signs in without a password
account-passkey-rename = Rename
account-passkey-new-name = New name
account-passkey-remove = Remove
account-passkey-remove-named = Remove { $name }
account-passkey-name = Name of the new passkey (like "YubiKey 5" or "laptop")
account-passkey-add = Add a passkey
account-passkey-noscript = Adding a passkey needs JavaScript.
account-password-title = Change password
account-password-current = Current password
account-password-new = New password (at least 8 characters)
account-password-confirm = New password again
account-events-title = Recent sign-ins and security events
account-events-none = No events yet.
account-event-host = SSH/console logins on host { $host }
account-password-wrong = The password is not right.
account-send-failed = We could not send the code. Check the address and try again later.
account-provider-unavailable = { $name } is not available.
account-locked = The account is locked.
account-passwords-differ = The two new passwords are not the same.
account-no-such-passkey = No such passkey.
account-done-totp = Your authenticator app is set up.
account-done-sms = SMS verification is set up.
account-done-email = Email verification is set up.
account-done-default = Your default method is changed.
account-done-removed = The method is turned off.
account-done-password = Your password is changed.
account-done-passkey = Your passkey is added.
account-done-passkey-renamed = Your passkey is renamed.
account-done-passkey-removed = The passkey is removed.
account-done-confirmed = Thank you. You can change your sign-in methods for the next few minutes.

## Admin console: navigation

admin-nav-label = Admin console
admin-nav-admin = Admin:
admin-nav-settings = Two-factor settings
admin-nav-users = Users
admin-nav-groups = Groups
admin-nav-hosts = Hosts
admin-nav-clients = Clients
admin-nav-audit = Audit log
admin-nav-api = API

## Admin console: two-factor settings (grouped like ThingsBoard's screen)

settings-title = Two-factor settings
settings-intro = What every sign-in must pass: the methods users may set up, each with its own settings, then the limits that apply to all of them, then who must use a second factor. The name in small print under each setting is its ThingsBoard key, as the REST API spells it.
settings-providers-title = Verification methods
settings-providers-help = Users choose among the methods turned on here; at least one must be on.
settings-offer = Offer { $name }
settings-help-TOTP = A 6-digit code from an app such as Google Authenticator, Aegis or 1Password, changing every 30 seconds.
settings-help-SMS = A code sent by text message to the user's phone. Needs [sms] in the configuration.
settings-help-EMAIL = A code sent to the user's email address. Needs [smtp] in the configuration.
settings-help-WEBAUTHN = A security key or a passkey on a phone or computer (WebAuthn).
settings-help-BACKUP_CODE = One-time codes to print or download, for when the other methods are out of reach.
settings-issuer-name = Name shown in the app
settings-issuer-name-help = The account's label in the authenticator app, usually your organisation's name.
settings-sms-template = Message text
settings-sms-template-help = The text of the SMS; it must contain ${"{"}code{"}"}, replaced by the code (${"{"}username{"}"} and ${"{"}userEmail{"}"} may be used too).
settings-code-lifetime = Code lifetime (seconds)
settings-code-lifetime-help = How long a sent code can be used.
settings-rp-id = Relying party ID
settings-rp-id-help = The domain passkeys are bound to; empty means the issuer's host. Changing it makes existing passkeys stop working.
settings-rp-name = Name shown by the browser
settings-rp-name-help = The name the browser shows when it asks for a passkey.
settings-user-verification = User verification
settings-user-verification-required = Required (PIN or biometrics)
settings-user-verification-preferred = Preferred (when the key can)
settings-user-verification-help = Whether the key must check it is its owner (a PIN, a fingerprint) before it answers.
settings-extra-origins = Other origins
settings-extra-origins-help = Space-separated web origins, besides the issuer's, where passkeys may be used.
settings-passwordless = Passkey sign-in without a password
settings-passwordless-help = A discoverable passkey with user verification signs in alone, as both factors.
settings-codes-quantity = Number of codes
settings-codes-quantity-help = How many backup codes a user gets each time they generate them.
settings-limits-title = General limits
settings-send-period = Minimum time between code sends (seconds)
settings-send-period-help = How long a user waits before another SMS or email code can be sent.
settings-rate-limit = Verification attempts limit
settings-rate-limit-help = At most N code checks in S seconds, written N:S (like 3:900); empty for no limit.
settings-lockout = Failed attempts before lockout
settings-lockout-help = Wrong codes in a row that lock the account until an administrator unlocks it; 0 never locks.
settings-total-time = Time allowed for verification (seconds)
settings-total-time-help = How long a user has, after the password, to pass the second factor.
settings-enforcement-title = Enforcement
settings-enforce = Require two-factor authentication
settings-enforce-help = Users without a second factor must set one up before they can finish signing in.
settings-enforced-users = Who must use it
settings-enforced-all = All users
settings-enforced-admins = Administrators only
settings-enforced-users-help = Whom the requirement applies to.
settings-save = Save settings
settings-saved = Settings saved.
settings-whole-number = must be a whole number
settings-test-title = Test the senders
settings-test-email = Send a test email to
settings-test-email-off = Mail service is not set up ([smtp] in the configuration).
settings-test-email-button = Send test email
settings-test-sms = Send a test SMS to
settings-test-sms-off = SMS service is not configured ([sms] in the configuration).
settings-test-sms-button = Send test SMS

## Admin console: a user

admin-user-title = User { $name }
admin-user-name = Name
admin-user-email = Email
admin-user-phone = Phone
admin-user-role = Role
admin-user-state = State
admin-user-failures = Second-factor failures
admin-user-created = Created
admin-user-groups = Groups
admin-user-factors = Second factors
admin-user-no-factors = None. The user enrols at their next login when two-factor authentication is required.
admin-user-audit = This user's audit events
admin-none = none
admin-yes = yes
admin-codes-left = { $n } left
admin-state-active = active
admin-state-disabled = disabled
admin-state-locked-since = locked since { $when }
admin-remove = Remove
admin-remove-passkey = Remove the passkey { $name }
admin-unlock = Unlock
admin-disable = Disable
admin-enable = Enable
admin-reset-factors = Reset second factors
admin-set-role = Set role
admin-user-done-created = The user was created.
admin-user-done-disable = The user is disabled.
admin-user-done-enable = The user is enabled.
admin-user-done-unlock = The user is unlocked.
admin-user-done-reset = The user's second factors are reset; they will enrol again at their next login.
admin-user-done-role = The role is changed.
admin-user-done-remove-passkey = The passkey is removed.

## Admin console: users

users-search-label = Search by username, email or name
users-search = Search
admin-state-locked = locked
users-none = No users match.
users-previous = Previous
users-next = Next
users-create-title = Create a user
users-phone = Phone (optional, E.164)
users-display-name = Display name (optional)
users-initial-password = Initial password (at least 8 characters)
users-create = Create user

## Admin console: groups

groups-intro = Registered hosts admit the members of their groups; a client with allowed groups admits only their members, and the groups scope tells an application a user's groups.
col-group = Group
col-members = Members
groups-none = No groups yet.
groups-create-title = Create a group
groups-name = Name (lowercase letters, digits, '.', '_' or '-')
groups-create = Create group
group-title = Group { $name }
group-created = Created { $when }.
group-remove-member = Remove { $user } from { $group }
group-no-members = No members.
group-add-title = Add a member
group-add = Add member
group-remove-title = Remove the group
group-remove-help = Its members keep their accounts; hosts stop admitting them through this group. A group that a client still lists as allowed cannot be removed.
group-remove = Remove group { $name }
group-all = All groups

## Admin console: hosts

hosts-intro = Linux hosts whose PAM module verifies SSH, console and sudo logins through this server (fleet mode), each with a credential of its own. A host admits only members of its allowed groups; with none, no one can log in there.
col-host = Host
hosts-allowed-groups = Allowed groups
col-last-seen = Last seen
hosts-no-groups = none: no one can log in
hosts-none = No hosts registered yet.
hosts-register-title = Register a host
hosts-name = Name (letters, digits, '.', '-' or '_'; usually what hostname prints)
hosts-groups = Allowed groups (comma-separated, existing groups)
hosts-register = Register host
host-title = Host { $name }
host-credential-once = The host's credential, shown this once.
host-credential-help = Put this line in /etc/stepgate/host.credential on the host (owner root, mode 0600); the PAM module's credential= names that file.
host-facts = Registered { $created }; credential made { $rotated }; last seen { $seen }.
host-facts-from = Registered { $created }; credential made { $rotated }; last seen { $seen } from { $addr }.
host-deny-label = Stop admitting { $group } at { $host }
host-no-groups = None: no one can log in at this host.
host-allow-label = Admit the members of group
host-allow = Allow group
host-recent = Recent logins
col-user = User
col-service = Service
host-no-logins = No logins at this host yet.
host-credential-title = Credential
host-rotate-help = A new credential replaces the current one at once: the host refuses logins until its file holds the new line.
host-rotate = Make a new credential
host-unregister-title = Unregister the host
host-unregister = Unregister { $name }
host-all = All hosts

## Admin console: audit log and clients

audit-any = any
audit-since = From (YYYY-MM-DD, UTC)
audit-until = To (YYYY-MM-DD, UTC)
audit-date-wrong = Use a date like 2026-01-31.
audit-filter = Filter
col-detail = Detail
audit-none = No events match.
audit-older = Older events
clients-title = OpenID Connect clients
clients-secret-of = Secret of { $client }
clients-secret-once = Copy it now: it is shown only this once.
clients-public = public client (PKCE)
clients-confidential = confidential client
clients-grants = grants:
clients-scopes = scopes:
clients-api = Stepgate API:
clients-only-groups = only groups:
clients-redirect-uris = Redirect URIs (one per line)
clients-post-logout-uris = Post-logout redirect URIs (one per line)
clients-allowed-groups = Allowed groups (space separated; empty: every user may sign in)
clients-api-access = Stepgate API access (only for tools you trust with it)
clients-scope-account = manage the signed-in user's own second factors
clients-scope-admin = administer Stepgate
clients-save = Save
clients-grant-device = devices and command-line tools, approved on /device
clients-rotate = Rotate secret
clients-delete = Delete
clients-none = No clients are registered.
clients-register-title = Register a client
clients-id = Client ID
clients-grant-types = Grant types
clients-cc-scopes = client_credentials scopes for your own APIs (space separated)
clients-public-check = Public client (no secret, PKCE)
clients-register = Register client

## API reference

api-title = API reference
api-admin = Admin
api-endpoints = Endpoints
api-parameters = Parameters:
api-body = Request body:
api-responses = Responses:
api-schemas = Schemas
api-see = see

## Admin console: notices

groups-the-user = The user
groups-done-created = The group was created.
groups-done-removed = The group was removed.
groups-done-added = { $who } is a member.
groups-done-unchanged = { $who } was a member already.
groups-done-taken-out = { $who } is no longer a member.
hosts-done-removed = The host was unregistered; its credential no longer works.
hosts-done-allowed = The group's members may log in at this host.
hosts-done-denied = The group's members are no longer admitted through it.
hosts-done-registered = The host was registered.
hosts-done-registered-no-groups = The host was registered. It has no allowed groups yet, so no one can log in there.
clients-done-registered = The client { $client } was registered.
clients-done-saved = The client { $client } was saved.
clients-done-rotated = The client { $client } was given a new secret.
clients-done-deleted = The client { $client } was deleted.
notify-not-email = Not an email address. { $why }
notify-not-phone = Not a phone number in E.164 form. { $why }
notify-email-sent = A test email was sent to { $to }.
notify-sms-sent = A test SMS was sent to { $to }.
notify-failed = Sending failed: { $why }
admin-no-such = No such { $what }.
admin-unknown-action = Unknown action.
admin-role-choose = Choose USER or ADMIN.
groups-no-such-user = There is no user named “{ $name }”.
groups-not-a-member = “{ $name }” is not a member of this group.

## Audit events, as the account page lists them (event-<kind>)

event-first_factor_ok = password accepted
event-first_factor_failed = password refused
event-challenge_opened = second factor asked
event-code_sent = code sent
event-code_send_failed = code not delivered
event-code_check_ok = code accepted
event-code_check_bad = wrong code
event-code_check_rate_limited = too many attempts
event-lockout = account locked
event-unlock = account unlocked
event-enrolment_added = method added
event-enrolment_removed = method removed
event-default_provider_changed = default method changed
event-backup_codes_generated = backup codes generated
event-passkey_added = passkey added
event-passkey_renamed = passkey renamed
event-passkey_removed = passkey removed
event-passkey_counter_regressed = passkey counter went back (cloned key?)
event-twofa_reset = two-factor methods reset
event-user_created = user created
event-user_updated = user changed
event-user_disabled = user disabled
event-user_enabled = user enabled
event-password_changed = password changed
event-settings_changed = settings changed
event-login_completed = signed in
event-session_ended = signed out
event-token_reuse_detected = token used twice (revoked)
event-client_created = client registered
event-client_updated = client changed
event-client_removed = client removed
event-client_secret_rotated = client secret replaced
event-signing_key_rotated = signing key replaced
event-group_created = group created
event-group_removed = group removed
event-group_member_added = added to a group
event-group_member_removed = taken out of a group
event-client_login_refused = refused by an application
event-host_added = host added
event-host_removed = host removed
event-host_credential_rotated = host credential replaced
event-host_group_allowed = group allowed on a host
event-host_group_denied = group no longer allowed on a host
event-host_login_refused = refused by a host
event-device_user_code_refused = wrong device code
event-device_approved = device sign-in approved
event-device_denied = device sign-in denied

## The device page (RFC 8628: a TV or command-line tool asks the user to approve it here)

device-connect-title = Connect a device
device-connect-lead = Enter the code your device or command-line tool shows.
device-code-label = Code
device-continue = Continue
device-error-wrong = That code is not right. Check the code on your device and try again.
device-error-limited = Too many wrong codes. Wait { $seconds } seconds and try again.
device-error-expired = This code has expired. Start again on your device.
device-error-used = This code was already used. Start again on your device if you need a new one.
device-error-empty = Enter the code your device shows.
device-error-gone = This request is no longer waiting. Enter the code again, or start again on your device.
device-approve-title = Approve a device
device-wants = { $client } wants to sign in as { $user }.
device-only-if-yours = Approve only if you started this on your own device just now.
device-asks-for = It asks for:
device-approve = Approve
device-deny = Deny
device-approved-title = Device approved
device-approved = { $client } is signed in. You can return to your device.
device-denied-title = Request denied
device-refused = This account may not sign in to { $client }. The device was told no.
device-denied = { $client } was not given access. You can close this page.
device-removed-title = This request cannot be completed
device-client-removed = The application was removed.
device-bad-form-title = This form is not right
device-bad-form = Choose Approve or Deny.
scope-openid = Your Stepgate identity
scope-profile = Your name and username
scope-email = Your email address
scope-phone = Your phone number
scope-groups = The groups you are in
scope-offline_access = Access while you are away (until you sign out of it)
scope-stepgate_account = Managing your second factors
scope-stepgate_admin = Administering Stepgate

## The core's refusals of bad input (core-<id>; the API and CLI say the same in English)

core-phone-no-plus = Start with + and the country code, like +15551231234.
core-phone-not-digits = Use only digits after the +, no spaces or dashes.
core-phone-length = Use 8 to 15 digits after the +.
core-phone-no-country = Start with a country code after the + (not 0).
core-email-empty = Enter an email address.
core-email-too-long = An email address has at most 254 characters.
core-email-spaces = An email address has no spaces or control characters.
core-email-no-at = An email address contains an @, like name@example.com.
core-email-two-at = An email address contains only one @.
core-email-no-name = Put a name before the @, like name@example.com.
core-email-no-domain = Put a domain with a dot after the @, like name@example.com.
core-username-form = Use 1 to 64 letters, digits, '.', '_' or '-', not starting with '-' and not just '.' or '..'.
core-password-short = A password has at least 8 characters.
core-password-long = A password has at most 1024 bytes.
core-code-wrong = That code is not right. Try again.
core-passkey-name-empty = Give the passkey a name, like “YubiKey 5” or “laptop”.
core-passkey-name-long = A name has at most 64 characters and no control characters.
core-passkey-request-gone = This passkey request expired or was already used. Start again.
core-passkey-answer-unreadable = The browser's answer could not be read. Start again.
core-passkey-answer-refused = The authenticator's answer was not accepted. Start again.
core-passkey-known = This passkey is already registered.
core-passwordless-off = Passwordless sign-in is turned off.

## The core's refusals by rule (core-<id>)

core-enrolment-gone = No set-up of this method is in progress (or it expired). Start again.
core-backup-codes-not-alone = Set up another method first: backup codes cannot be your only second factor.
core-last-factor = At least one second factor is required: add another before removing this one.
core-no-factor-set-up = No second factor is set up for this account.
core-no-factor-available = No second factor is available.
core-passkey-only = This account's only second factor is a passkey, which cannot be used here. Add an authenticator app or backup codes on the account page.
core-codes-not-sent = { $provider } codes are not sent.
core-host-login-no-longer = This account may no longer log in at this host.
core-device-answered = This request was already answered or has expired.

## The core's refusals in the admin console (core-<id>)

core-user-exists = A user named “{ $name }” already exists.
core-group-exists = A group named “{ $name }” already exists.
core-group-in-use = The group “{ $name }” is an allowed group of the client(s) { $clients }: take it off them first.
core-group-name-form = “{ $name }” is not a group name: use 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.
core-group-listed-twice = “{ $name }” is listed twice.
core-group-missing = There is no group named “{ $name }” (create it first).
core-host-exists = A host named “{ $name }” already exists.
core-host-name-length = A host name has 1 to 253 characters.
core-host-name-form = A host name is letters, digits, '.', '-' and '_', starting with a letter or digit.
core-host-no-such-group = There is no group named “{ $name }”.
core-host-group-not-allowed = The host “{ $host }” does not allow the group “{ $group }”.
core-settings-provider-twice = { $provider } is listed twice.
core-settings-name-length = Use 1 to 64 characters.
core-settings-issuer-colon = The name must not contain ':' (authenticator apps split the label on it).
core-settings-sms-no-code = The text must contain ${"{"}code{"}"}.
core-settings-sms-long = The text has at most 320 characters.
core-settings-codes-quantity = Use a number from 1 to 100.
core-settings-send-period = Use 5 to 86400 seconds.
core-settings-lockout = Use a number from 0 (never lock) to 65535.
core-settings-verification-time = Use 60 to 86400 seconds.
core-settings-code-lifetime = Use 30 to 86400 seconds.
core-settings-rate-form = “{ $value }” is not of the form N:S (at most N checks per S seconds).
core-settings-rate-zero = Both N and S must be at least 1.
core-settings-no-mail = Mail service is not set up: configure [smtp] before enabling EMAIL.
core-settings-no-sms = SMS service is not configured: configure [sms] before enabling SMS.
core-rp-id-form = Use a host name (like example.com) without scheme, port or path, or leave it empty for the issuer's host.
core-rp-attestation-none = Only “none” is supported (authenticators are not asked who made them).
core-rp-origin-form = Use an origin like https://login.example.com (scheme, host, optional port).
core-rp-issuer-ip = Passkeys need the issuer on a domain name, and “{ $host }” is an IP address: use a host name (localhost for a test) in server.issuer.
core-rp-id-misfit = “{ $rp_id }” does not fit the issuer's origin { $origin }: { $why }
core-rp-origin-unreadable = “{ $origin }” is not a valid origin: { $why }
core-rp-origin-off-id = { $origin } is not on the relying party ID “{ $rp_id }” or one of its subdomains.
core-client-exists = A client “{ $id }” already exists.
core-client-public-no-secret = { $id } is a public client: it has no secret to rotate.
core-client-id-form = Use 1 to 128 letters, digits, '.', '_', '-' or ':'.
core-client-name-long = A name has at most 200 characters.
core-uri-not-absolute = “{ $uri }” is not an absolute URL: { $why }
core-uri-fragment = “{ $uri }” must not contain a fragment.
core-uri-not-https = “{ $uri }” must use https (plain http is only allowed for localhost).
core-uri-scheme = “{ $uri }”: the scheme “{ $scheme }” is not allowed; use https.
core-client-no-grant = Choose at least one grant type.
core-client-code-no-redirect = The authorization_code grant needs at least one redirect URI.
core-client-code-redirect-left = The authorization_code grant needs at least one redirect URI.
core-client-refresh-alone = The refresh_token grant only makes sense with authorization_code or { $device }.
core-client-public-credentials = A public client cannot use client_credentials (it has no secret).
core-client-scope-is-api = “{ $scope }” is a Stepgate API scope: choose it under Stepgate API access.
core-client-scope-not-grantable = “{ $scope }” cannot be granted through client_credentials.
core-client-api-scope-unknown = “{ $scope }” is not a Stepgate API scope (use { $scopes }).
core-client-api-scope-twice = “{ $scope }” is listed twice.

## Roles (role-<role>)

role-user = User
role-admin = Administrator

## Approving a PAM login in the browser (the terminal shows a code for /device)

approval-title = Approve a login
approval-lead = Someone is logging in as { $user } and asks you to approve it here.
approval-host = Host
approval-service = Service
approval-from = From
approval-tty = Terminal
approval-began = Began
approval-only-if-yours = Approve only if this is your own login, started just now. If it is not, deny it.
approval-approved-title = Login approved
approval-approved = The login at { $host } goes on. You can close this page.
approval-denied-title = Login denied
approval-denied = The login at { $host } was refused.
approval-over-title = This login is over
approval-over = The login's time ran out or it has ended; log in again at the host.
approval-locked-title = Account locked
approval-locked = This account is locked after too many failed verifications; ask an administrator to unlock it.
approval-limited-title = Too many attempts
approval-limited = Too many verifications in a short time; wait a little and log in again at the host.
approval-provider-gone-title = This way to verify is no longer available
approval-provider-gone = The second factor you signed in with was switched off. Sign in again with another one.
approval-other-title = This login is another account's
approval-other = Only the account that is logging in can approve it. Sign in as that account, or close this page.
approval-sign-in-again-title = Sign in again
approval-sign-in-again = To approve a login, sign in again with your second factor.
event-login_approval_requested = login approval requested
event-login_approval_refused = login approval by another account refused
core-approval-other-account = This login is for another account. Sign in as that account to approve it.
