# Stepgates Seiten auf Deutsch: eine Übersetzung von ../en/main.ftl mit denselben Schlüsseln.

## Providers, as people name them (one place for every page)

provider-TOTP = Authenticator-App
provider-SMS = SMS
provider-EMAIL = E-Mail
provider-WEBAUTHN = Passkey
provider-BACKUP_CODE = Backup-Codes

## Shared

nav-home = Startseite
nav-account-security = Kontosicherheit
sign-in-again = Erneut anmelden
error-continue = Weiter
passkey-unsupported = Dieser Browser kann keine Passkeys verwenden.
passkey-failed = Der Passkey wurde nicht verwendet. Versuchen Sie es erneut oder wählen Sie einen anderen Weg.
choose-method = Wählen Sie eine Methode.
choose-verification-method = Wählen Sie eine Bestätigungsmethode.
too-many-attempts-wait = Zu viele Versuche. Warten Sie { $seconds } Sekunden und versuchen Sie es erneut.
too-many-attempts-later = Zu viele Versuche. Warten Sie eine Weile und versuchen Sie es erneut.
code-sent-recently = Vor Kurzem wurde ein Code gesendet. Warten Sie { $seconds } Sekunden, bevor Sie einen neuen anfordern.
code-sent-recently-later = Vor Kurzem wurde ein Code gesendet. Warten Sie etwas, bevor Sie einen neuen anfordern.
passkey-sign-in-again = Melden Sie sich zuerst erneut an und fügen Sie dann den Passkey hinzu.
account-disabled = Dieses Konto ist deaktiviert.
col-when = Wann
col-event = Ereignis
col-method = Methode
col-via = Über
col-from = Von
col-default = Standard
col-destination = Ziel
col-enabled = Eingerichtet
col-changed = Geändert
col-added = Hinzugefügt
col-last-used = Zuletzt verwendet
col-actions = Aktionen

## Sign in

sign-in-title = Anmelden
sign-in-to-continue = um fortzufahren zu
sign-in-username = Benutzername
sign-in-password = Passwort
sign-in-button = Anmelden
sign-in-or = oder
sign-in-passkey = Mit einem Passkey anmelden
sign-in-bad-credentials = Benutzername oder Passwort ist falsch.
this-account-locked = Dieses Konto ist nach zu vielen fehlgeschlagenen Bestätigungsversuchen gesperrt. Bitten Sie einen Administrator, es zu entsperren.
passwordless-refused = Dieser Passkey wurde nicht akzeptiert. Melden Sie sich mit Benutzername und Passwort an.
passwordless-unavailable = Die Anmeldung nur mit einem Passkey ist hier nicht verfügbar. Melden Sie sich mit Benutzername und Passwort an.

## Second factor

second-factor-title = Bestätigen Sie, dass Sie es sind
second-factor-use-passkey = Passkey verwenden
second-factor-passkey-noscript = Ein Passkey braucht JavaScript. Wählen Sie unten einen anderen Weg.
second-factor-verify = Bestätigen
second-factor-resend = Code erneut senden
second-factor-another-way = Anderen Weg wählen
second-factor-you = Sie
prompt-totp = Geben Sie den 6-stelligen Code aus Ihrer Authenticator-App ein
prompt-sms = Geben Sie den 6-stelligen Code ein, den wir per SMS an { $to } gesendet haben
prompt-email = Geben Sie den 6-stelligen Code ein, den wir per E-Mail an { $to } gesendet haben
prompt-backup-code = Geben Sie einen Ihrer 8-stelligen Backup-Codes ein
prompt-passkey = Verwenden Sie Ihren Passkey oder Sicherheitsschlüssel
alt-totp = Authenticator-App verwenden
alt-sms = Code per SMS an { $to } senden
alt-email = Code per E-Mail an { $to } senden
alt-backup-code = Backup-Code verwenden
alt-passkey = Passkey verwenden
your-account-locked = Ihr Konto ist nach zu vielen fehlgeschlagenen Bestätigungsversuchen gesperrt. Bitten Sie einen Administrator, es zu entsperren.
verification-time-up = Die Zeit für die Bestätigung ist abgelaufen. Melden Sie sich erneut an.
verification-finished = Diese Bestätigung ist bereits abgeschlossen. Melden Sie sich erneut an.
sign-in-expired = Ihre Anmeldung ist abgelaufen. Melden Sie sich erneut an.
send-failed = Wir konnten den Code nicht senden. Versuchen Sie es später erneut oder wählen Sie einen anderen Weg.
method-unavailable = Diese Bestätigungsmethode ist für Ihr Konto nicht verfügbar.
no-second-factor-left = Für Ihr Konto ist kein zweiter Faktor mehr verfügbar. Wenden Sie sich an Ihren Administrator.
passkey-only-here = Ihr einziger zweiter Faktor ist ein Passkey, der hier nicht verwendet werden kann. Fügen Sie auf Ihrer Kontoseite eine Authenticator-App oder Backup-Codes hinzu.
code-sent-to = Wir haben einen Code an { $to } gesendet.
code-sent = Wir haben Ihnen einen Code gesendet.
code-wrong = Dieser Code ist nicht richtig. Versuchen Sie es erneut.
code-wrong-attempts = Dieser Code ist nicht richtig. { $n ->
    [one] Noch { $n } Versuch
   *[other] Noch { $n } Versuche
}, bevor das Konto gesperrt wird.
passkey-wrong = Dieser Passkey wurde nicht akzeptiert. Versuchen Sie es erneut.
passkey-wrong-attempts = Dieser Passkey wurde nicht akzeptiert. { $n ->
    [one] Noch { $n } Versuch
   *[other] Noch { $n } Versuche
}, bevor das Konto gesperrt wird.

## Home and sign out

home-signed-in-title = Angemeldet
home-signed-in-as = Sie sind angemeldet als
home-account-hint = (zweite Faktoren, Passwort, letzte Anmeldungen)
home-not-signed-in = Sie sind nicht angemeldet.
sign-out-title = Abmelden
sign-out-button = Abmelden
sign-out-done-title = Abgemeldet
sign-out-done = Sie wurden abgemeldet.
sign-out-ask-title = Abmelden?
sign-out-client-asks = { $client } bittet Sie, sich von { $brand } abzumelden.
sign-out-ask = Möchten Sie sich von { $brand } abmelden?

## Error pages

err-not-found-title = Nicht gefunden
err-not-found = Unter dieser Adresse gibt es keine Seite.
err-internal-title = Etwas ist schiefgegangen
err-internal = Der Server konnte die Anfrage nicht ausführen. Bitte versuchen Sie es später erneut.
err-form-expired-title = Dieses Formular ist abgelaufen
err-form-expired = Die Seite war zu lange geöffnet oder kam von einer anderen Website. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.
err-request-title = Diese Anmeldeanfrage kann nicht abgeschlossen werden
err-param-repeated = Der Parameter { $name } kommt mehrfach vor.
err-no-client-id = Die Anfrage nennt keinen Client (client_id fehlt).
err-client-unknown = Die Anwendung, die Sie hierher geschickt hat, ist nicht registriert.
err-no-redirect-uri = Die Anfrage hat keine redirect_uri.
err-redirect-uri-unknown = Die redirect_uri ist für diese Anwendung nicht registriert.
err-sign-in-expired-title = Diese Anmeldung ist abgelaufen
err-sign-in-expired = Gehen Sie zurück zu der Anwendung, von der Sie kamen, und melden Sie sich erneut an.
err-sign-in-incomplete-title = Diese Anmeldung kann nicht abgeschlossen werden
err-client-removed = Die Anwendung wurde entfernt, während Sie sich angemeldet haben.
err-sign-out-title = Die Abmeldung kann nicht fortgesetzt werden
err-post-logout-unknown = Die Adresse, zu der Sie nach der Abmeldung zurückkehren sollen, ist für diese Anwendung nicht registriert.
err-a-param-repeated = Ein Parameter kommt mehrfach vor.
err-id-token-hint = Der id_token_hint ist kein hier ausgestelltes ID-Token.
err-admins-only-title = Nur für Administratoren
err-admins-only = Diese Seite ist für Administratoren. Ihr Konto hat diese Rolle nicht.
err-no-such-user = Diesen Benutzer gibt es nicht.
err-no-such-group = Diese Gruppe gibt es nicht.
err-no-such-host = Diesen Host gibt es nicht.
err-no-such-client = Diesen Client gibt es nicht.
err-no-such-passkey = Diesen Passkey gibt es nicht.
err-no-such-group-member = Der Benutzer ist kein Mitglied dieser Gruppe.

## Account security

account-title = Kontosicherheit
account-nav-label = Konto
account-enrol-title = Zwei-Faktor-Authentifizierung einrichten
account-enrol-required = Für die Anmeldung ist ein zweiter Faktor nötig. Richten Sie einen ein, um fortzufahren.
account-enrol-someone-else = Als jemand anderes anmelden
account-enrol-first-title = Richten Sie zuerst einen zweiten Faktor ein
account-enrol-first = Richten Sie einen zweiten Faktor ein, um die Anmeldung abzuschließen.
account-signed-in-as = Angemeldet als
account-reauth-title = Bestätigen Sie, dass Sie es sind
account-reauth-needed = Um zu ändern, wie Sie sich anmelden, ist eine Anmeldung innerhalb der letzten { $minutes } Minuten nötig. Es wurde nichts geändert.
account-reauth-needed-2fa = Um zu ändern, wie Sie sich anmelden, ist eine Anmeldung mit Passwort und zweitem Faktor innerhalb der letzten { $minutes } Minuten nötig. Es wurde nichts geändert.
account-codes-title = Ihre Backup-Codes
account-codes-intro = Jeder Code funktioniert einmal. Bewahren Sie sie sicher auf: Sie werden nur jetzt angezeigt.
account-codes-download = Herunterladen (.txt)
account-codes-file = { $brand }-Backup-Codes. Jeder Code funktioniert einmal.
account-codes-print = Drucken
account-totp-title = Authenticator-App einrichten
account-totp-intro = Scannen Sie diesen QR-Code mit Ihrer Authenticator-App oder geben Sie den Schlüssel von Hand ein.
account-totp-key = Schlüssel:
account-totp-code = 6-stelliger Code aus der App
account-verify-turn-on = Bestätigen und einschalten
account-sent-title = Geben Sie den gesendeten Code ein
account-sent-to = Wir haben einen 6-stelligen Code an { $to } gesendet.
account-sent-code = Code
account-methods-title = Zwei-Faktor-Methoden
account-methods-none = Auf dieser Plattform wird kein zweiter Faktor angeboten.
account-on = Ein
account-off = Aus
account-default = Standard
account-changed = geändert { $when }
account-backup-left = { $n ->
    [one] Noch { $n } Backup-Code
   *[other] Noch { $n } Backup-Codes
}
account-use-default = Als Standard verwenden
account-regenerate-codes = Backup-Codes neu erzeugen
account-turn-off = Ausschalten
account-turn-off-named = { $name } ausschalten
account-your-password = Ihr Passwort
account-totp-start = Authenticator-App einrichten
account-phone = Telefonnummer (internationales Format, etwa +4915112345678)
account-email = E-Mail-Adresse
account-send-code = Code senden
account-backup-needs-primary = Richten Sie zuerst eine andere Methode ein: Backup-Codes können nicht Ihr einziger zweiter Faktor sein.
account-generate-codes = Backup-Codes erzeugen
account-passkey-added = hinzugefügt { $when }
account-passkey-last-used = zuletzt verwendet { $when }
account-passkey-never-used = nie verwendet
account-passkey-discoverable = meldet ohne Passwort an
account-passkey-rename = Umbenennen
account-passkey-new-name = Neuer Name
account-passkey-remove = Entfernen
account-passkey-remove-named = { $name } entfernen
account-passkey-name = Name des neuen Passkeys (etwa „YubiKey 5“ oder „Laptop“)
account-passkey-add = Passkey hinzufügen
account-passkey-noscript = Zum Hinzufügen eines Passkeys ist JavaScript nötig.
account-password-title = Passwort ändern
account-password-current = Aktuelles Passwort
account-password-new = Neues Passwort (mindestens 8 Zeichen)
account-password-confirm = Neues Passwort wiederholen
account-events-title = Letzte Anmeldungen und Sicherheitsereignisse
account-events-none = Noch keine Ereignisse.
account-event-host = SSH-/Konsolen-Anmeldungen am Host { $host }
account-password-wrong = Das Passwort ist nicht richtig.
account-send-failed = Wir konnten den Code nicht senden. Prüfen Sie die Adresse und versuchen Sie es später erneut.
account-provider-unavailable = { $name } ist nicht verfügbar.
account-locked = Das Konto ist gesperrt.
account-passwords-differ = Die beiden neuen Passwörter stimmen nicht überein.
account-no-such-passkey = Diesen Passkey gibt es nicht.
account-done-totp = Ihre Authenticator-App ist eingerichtet.
account-done-sms = Die Bestätigung per SMS ist eingerichtet.
account-done-email = Die Bestätigung per E-Mail ist eingerichtet.
account-done-default = Ihre Standardmethode ist geändert.
account-done-removed = Die Methode ist ausgeschaltet.
account-done-password = Ihr Passwort ist geändert.
account-done-passkey = Ihr Passkey ist hinzugefügt.
account-done-passkey-renamed = Ihr Passkey ist umbenannt.
account-done-passkey-removed = Der Passkey ist entfernt.
account-done-confirmed = Danke. Sie können Ihre Anmeldemethoden in den nächsten Minuten ändern.

## Admin console: navigation

admin-nav-label = Verwaltung
admin-nav-admin = Verwaltung:
admin-nav-settings = Zwei-Faktor-Einstellungen
admin-nav-users = Benutzer
admin-nav-groups = Gruppen
admin-nav-hosts = Hosts
admin-nav-clients = Clients
admin-nav-audit = Audit-Protokoll
admin-nav-api = API

## Admin console: two-factor settings (grouped like ThingsBoard's screen)

settings-title = Zwei-Faktor-Einstellungen
settings-intro = Was jede Anmeldung bestehen muss: die Methoden, die Benutzer einrichten dürfen, jede mit eigenen Einstellungen, dann die Grenzen für alle, dann wer einen zweiten Faktor verwenden muss. Der klein gedruckte Name unter jeder Einstellung ist ihr ThingsBoard-Schlüssel, wie die REST-API ihn schreibt.
settings-providers-title = Bestätigungsmethoden
settings-providers-help = Benutzer wählen unter den hier eingeschalteten Methoden; mindestens eine muss eingeschaltet sein.
settings-offer = { $name } anbieten
settings-help-TOTP = Ein 6-stelliger Code aus einer App wie Google Authenticator, Aegis oder 1Password, der alle 30 Sekunden wechselt.
settings-help-SMS = Ein Code per SMS an das Telefon des Benutzers. Braucht [sms] in der Konfiguration.
settings-help-EMAIL = Ein Code an die E-Mail-Adresse des Benutzers. Braucht [smtp] in der Konfiguration.
settings-help-WEBAUTHN = Ein Sicherheitsschlüssel oder ein Passkey auf Telefon oder Computer (WebAuthn).
settings-help-BACKUP_CODE = Einmal-Codes zum Drucken oder Herunterladen, falls die anderen Methoden nicht erreichbar sind.
settings-issuer-name = Name in der App
settings-issuer-name-help = Die Bezeichnung des Kontos in der Authenticator-App, meist der Name Ihrer Organisation.
settings-sms-template = Nachrichtentext
settings-sms-template-help = Der Text der SMS; er muss ${"{"}code{"}"} enthalten, das durch den Code ersetzt wird (auch ${"{"}username{"}"} und ${"{"}userEmail{"}"} sind möglich).
settings-code-lifetime = Gültigkeit des Codes (Sekunden)
settings-code-lifetime-help = Wie lange ein gesendeter Code verwendet werden kann.
settings-rp-id = Relying-Party-ID
settings-rp-id-help = Die Domain, an die Passkeys gebunden sind; leer bedeutet der Host des Issuers. Eine Änderung macht vorhandene Passkeys unbrauchbar.
settings-rp-name = Im Browser angezeigter Name
settings-rp-name-help = Der Name, den der Browser zeigt, wenn er nach einem Passkey fragt.
settings-user-verification = Benutzerprüfung
settings-user-verification-required = Erforderlich (PIN oder Biometrie)
settings-user-verification-preferred = Bevorzugt (wenn der Schlüssel es kann)
settings-user-verification-help = Ob der Schlüssel prüfen muss, dass er seinem Besitzer gehört (PIN, Fingerabdruck), bevor er antwortet.
settings-extra-origins = Weitere Origins
settings-extra-origins-help = Durch Leerzeichen getrennte Web-Origins neben der des Issuers, an denen Passkeys verwendet werden dürfen.
settings-passwordless = Passkey-Anmeldung ohne Passwort
settings-passwordless-help = Ein auffindbarer Passkey mit Benutzerprüfung meldet allein an, als beide Faktoren.
settings-codes-quantity = Anzahl der Codes
settings-codes-quantity-help = Wie viele Backup-Codes ein Benutzer bei jedem Erzeugen erhält.
settings-limits-title = Allgemeine Grenzen
settings-send-period = Mindestabstand zwischen Code-Sendungen (Sekunden)
settings-send-period-help = Wie lange ein Benutzer wartet, bevor ein weiterer SMS- oder E-Mail-Code gesendet werden kann.
settings-rate-limit = Grenze für Bestätigungsversuche
settings-rate-limit-help = Höchstens N Code-Prüfungen in S Sekunden, geschrieben N:S (etwa 3:900); leer für keine Grenze.
settings-lockout = Fehlversuche bis zur Sperre
settings-lockout-help = Falsche Codes in Folge, die das Konto sperren, bis ein Administrator es entsperrt; 0 sperrt nie.
settings-total-time = Zeit für die Bestätigung (Sekunden)
settings-total-time-help = Wie lange ein Benutzer nach dem Passwort Zeit hat, den zweiten Faktor zu bestehen.
settings-enforcement-title = Durchsetzung
settings-enforce = Zwei-Faktor-Authentifizierung verlangen
settings-enforce-help = Benutzer ohne zweiten Faktor müssen einen einrichten, bevor sie die Anmeldung abschließen können.
settings-enforced-users = Wer sie verwenden muss
settings-enforced-all = Alle Benutzer
settings-enforced-admins = Nur Administratoren
settings-enforced-users-help = Für wen die Anforderung gilt.
settings-save = Einstellungen speichern
settings-saved = Einstellungen gespeichert.
settings-whole-number = muss eine ganze Zahl sein
settings-test-title = Versand testen
settings-test-email = Test-E-Mail senden an
settings-test-email-off = Der Mail-Versand ist nicht eingerichtet ([smtp] in der Konfiguration).
settings-test-email-button = Test-E-Mail senden
settings-test-sms = Test-SMS senden an
settings-test-sms-off = Der SMS-Versand ist nicht konfiguriert ([sms] in der Konfiguration).
settings-test-sms-button = Test-SMS senden

## Admin console: a user

admin-user-title = Benutzer { $name }
admin-user-name = Name
admin-user-email = E-Mail
admin-user-phone = Telefon
admin-user-role = Rolle
admin-user-state = Zustand
admin-user-failures = Fehlversuche beim zweiten Faktor
admin-user-created = Erstellt
admin-user-groups = Gruppen
admin-user-factors = Zweite Faktoren
admin-user-no-factors = Keine. Der Benutzer richtet bei der nächsten Anmeldung einen ein, wenn Zwei-Faktor-Authentifizierung verlangt wird.
admin-user-audit = Audit-Ereignisse dieses Benutzers
admin-none = keine
admin-yes = ja
admin-codes-left = noch { $n }
admin-state-active = aktiv
admin-state-disabled = deaktiviert
admin-state-locked-since = gesperrt seit { $when }
admin-remove = Entfernen
admin-remove-passkey = Den Passkey { $name } entfernen
admin-unlock = Entsperren
admin-disable = Deaktivieren
admin-enable = Aktivieren
admin-reset-factors = Zweite Faktoren zurücksetzen
admin-set-role = Rolle setzen
admin-user-done-created = Der Benutzer wurde erstellt.
admin-user-done-disable = Der Benutzer ist deaktiviert.
admin-user-done-enable = Der Benutzer ist aktiviert.
admin-user-done-unlock = Der Benutzer ist entsperrt.
admin-user-done-reset = Die zweiten Faktoren des Benutzers sind zurückgesetzt; er richtet bei der nächsten Anmeldung neue ein.
admin-user-done-role = Die Rolle ist geändert.
admin-user-done-remove-passkey = Der Passkey ist entfernt.

## Admin console: users

users-search-label = Nach Benutzername, E-Mail oder Name suchen
users-search = Suchen
admin-state-locked = gesperrt
users-none = Keine Benutzer gefunden.
users-previous = Zurück
users-next = Weiter
users-create-title = Benutzer anlegen
users-phone = Telefon (optional, E.164)
users-display-name = Anzeigename (optional)
users-initial-password = Anfangspasswort (mindestens 8 Zeichen)
users-create = Benutzer anlegen

## Admin console: groups

groups-intro = Registrierte Hosts lassen die Mitglieder ihrer Gruppen zu; ein Client mit erlaubten Gruppen lässt nur deren Mitglieder zu, und der Scope groups nennt einer Anwendung die Gruppen eines Benutzers.
col-group = Gruppe
col-members = Mitglieder
groups-none = Noch keine Gruppen.
groups-create-title = Gruppe anlegen
groups-name = Name (Kleinbuchstaben, Ziffern, '.', '_' oder '-')
groups-create = Gruppe anlegen
group-title = Gruppe { $name }
group-created = Erstellt { $when }.
group-remove-member = { $user } aus { $group } entfernen
group-no-members = Keine Mitglieder.
group-add-title = Mitglied hinzufügen
group-add = Mitglied hinzufügen
group-remove-title = Gruppe entfernen
group-remove-help = Ihre Mitglieder behalten ihre Konten; Hosts lassen sie über diese Gruppe nicht mehr zu. Eine Gruppe, die ein Client noch als erlaubt führt, kann nicht entfernt werden.
group-remove = Gruppe { $name } entfernen
group-all = Alle Gruppen

## Admin console: hosts

hosts-intro = Linux-Hosts, deren PAM-Modul SSH-, Konsolen- und sudo-Anmeldungen über diesen Server prüft (Flottenmodus), jeder mit eigenem Zugangsschlüssel. Ein Host lässt nur Mitglieder seiner erlaubten Gruppen zu; ohne Gruppe kann sich dort niemand anmelden.
col-host = Host
hosts-allowed-groups = Erlaubte Gruppen
col-last-seen = Zuletzt gesehen
hosts-no-groups = keine: niemand kann sich anmelden
hosts-none = Noch keine Hosts registriert.
hosts-register-title = Host registrieren
hosts-name = Name (Buchstaben, Ziffern, '.', '-' oder '_'; meist die Ausgabe von hostname)
hosts-groups = Erlaubte Gruppen (durch Kommas getrennt, vorhandene Gruppen)
hosts-register = Host registrieren
host-title = Host { $name }
host-credential-once = Der Zugangsschlüssel des Hosts, nur dieses eine Mal angezeigt.
host-credential-help = Schreiben Sie diese Zeile auf dem Host in /etc/stepgate/host.credential (Eigentümer root, Modus 0600); credential= des PAM-Moduls nennt diese Datei.
host-facts = Registriert { $created }; Zugangsschlüssel erzeugt { $rotated }; zuletzt gesehen { $seen }.
host-facts-from = Registriert { $created }; Zugangsschlüssel erzeugt { $rotated }; zuletzt gesehen { $seen } von { $addr }.
host-deny-label = { $group } an { $host } nicht mehr zulassen
host-no-groups = Keine: An diesem Host kann sich niemand anmelden.
host-allow-label = Mitglieder dieser Gruppe zulassen
host-allow = Gruppe erlauben
host-recent = Letzte Anmeldungen
col-user = Benutzer
col-service = Dienst
host-no-logins = Noch keine Anmeldungen an diesem Host.
host-credential-title = Zugangsschlüssel
host-rotate-help = Ein neuer Zugangsschlüssel ersetzt den aktuellen sofort: Der Host verweigert Anmeldungen, bis seine Datei die neue Zeile enthält.
host-rotate = Neuen Zugangsschlüssel erzeugen
host-unregister-title = Host abmelden
host-unregister = { $name } abmelden
host-all = Alle Hosts

## Admin console: audit log and clients

audit-any = alle
audit-since = Von (JJJJ-MM-TT, UTC)
audit-until = Bis (JJJJ-MM-TT, UTC)
audit-date-wrong = Geben Sie ein Datum wie 2026-01-31 an.
audit-filter = Filtern
col-detail = Detail
audit-none = Keine passenden Ereignisse.
audit-older = Ältere Ereignisse
clients-title = OpenID-Connect-Clients
clients-secret-of = Secret von { $client }
clients-secret-once = Kopieren Sie es jetzt: Es wird nur dieses eine Mal angezeigt.
clients-public = öffentlicher Client (PKCE)
clients-confidential = vertraulicher Client
clients-grants = Grants:
clients-scopes = Scopes:
clients-api = Stepgate-API:
clients-only-groups = nur Gruppen:
clients-redirect-uris = Redirect-URIs (eine pro Zeile)
clients-post-logout-uris = Redirect-URIs nach der Abmeldung (eine pro Zeile)
clients-allowed-groups = Erlaubte Gruppen (durch Leerzeichen getrennt; leer: jeder Benutzer darf sich anmelden)
clients-api-access = Zugriff auf die Stepgate-API (nur für Werkzeuge, denen Sie ihn anvertrauen)
clients-scope-account = die eigenen zweiten Faktoren des angemeldeten Benutzers verwalten
clients-scope-admin = Stepgate verwalten
clients-save = Speichern
clients-grant-device = Geräte und Kommandozeilenwerkzeuge, bestätigt unter /device
clients-rotate = Secret erneuern
clients-delete = Löschen
clients-none = Es sind keine Clients registriert.
clients-register-title = Client registrieren
clients-id = Client-ID
clients-grant-types = Grant-Typen
clients-cc-scopes = client_credentials-Scopes für Ihre eigenen APIs (durch Leerzeichen getrennt)
clients-public-check = Öffentlicher Client (kein Secret, PKCE)
clients-register = Client registrieren

## API reference

api-title = API-Referenz
api-admin = Verwaltung
api-endpoints = Endpunkte
api-parameters = Parameter:
api-body = Anfragekörper:
api-responses = Antworten:
api-schemas = Schemata
api-see = siehe

## Admin console: notices

groups-the-user = Der Benutzer
groups-done-created = Die Gruppe wurde angelegt.
groups-done-removed = Die Gruppe wurde entfernt.
groups-done-added = { $who } ist Mitglied.
groups-done-unchanged = { $who } war bereits Mitglied.
groups-done-taken-out = { $who } ist kein Mitglied mehr.
hosts-done-removed = Der Host wurde abgemeldet; sein Zugangsschlüssel funktioniert nicht mehr.
hosts-done-allowed = Die Mitglieder der Gruppe dürfen sich an diesem Host anmelden.
hosts-done-denied = Die Mitglieder der Gruppe werden über sie nicht mehr zugelassen.
hosts-done-registered = Der Host wurde registriert.
hosts-done-registered-no-groups = Der Host wurde registriert. Er hat noch keine erlaubten Gruppen, also kann sich dort niemand anmelden.
clients-done-registered = Der Client { $client } wurde registriert.
clients-done-saved = Der Client { $client } wurde gespeichert.
clients-done-rotated = Der Client { $client } hat ein neues Secret erhalten.
clients-done-deleted = Der Client { $client } wurde gelöscht.
notify-not-email = Keine E-Mail-Adresse. { $why }
notify-not-phone = Keine Telefonnummer im E.164-Format. { $why }
notify-email-sent = Eine Test-E-Mail wurde an { $to } gesendet.
notify-sms-sent = Eine Test-SMS wurde an { $to } gesendet.
notify-failed = Senden fehlgeschlagen: { $why }
admin-no-such = { $what } nicht gefunden.
admin-unknown-action = Unbekannte Aktion.
admin-role-choose = Wählen Sie USER oder ADMIN.
groups-no-such-user = Es gibt keinen Benutzer namens „{ $name }“.
groups-not-a-member = „{ $name }“ ist kein Mitglied dieser Gruppe.

## Audit-Ereignisse, wie die Kontoseite sie auflistet (event-<kind>)

event-first_factor_ok = Passwort akzeptiert
event-first_factor_failed = Passwort abgelehnt
event-challenge_opened = zweiter Faktor angefordert
event-code_sent = Code gesendet
event-code_send_failed = Code nicht zugestellt
event-code_check_ok = Code akzeptiert
event-code_check_bad = falscher Code
event-code_check_rate_limited = zu viele Versuche
event-lockout = Konto gesperrt
event-unlock = Konto entsperrt
event-enrolment_added = Methode hinzugefügt
event-enrolment_removed = Methode entfernt
event-default_provider_changed = Standardmethode geändert
event-backup_codes_generated = Backup-Codes erzeugt
event-passkey_added = Passkey hinzugefügt
event-passkey_renamed = Passkey umbenannt
event-passkey_removed = Passkey entfernt
event-passkey_counter_regressed = Passkey-Zähler zurückgegangen (kopierter Schlüssel?)
event-twofa_reset = Zwei-Faktor-Methoden zurückgesetzt
event-user_created = Benutzer angelegt
event-user_updated = Benutzer geändert
event-user_disabled = Benutzer deaktiviert
event-user_enabled = Benutzer aktiviert
event-password_changed = Passwort geändert
event-settings_changed = Einstellungen geändert
event-login_completed = angemeldet
event-session_ended = abgemeldet
event-token_reuse_detected = Token doppelt verwendet (widerrufen)
event-client_created = Client registriert
event-client_updated = Client geändert
event-client_removed = Client entfernt
event-client_secret_rotated = Client-Geheimnis ersetzt
event-signing_key_rotated = Signaturschlüssel ersetzt
event-group_created = Gruppe angelegt
event-group_removed = Gruppe entfernt
event-group_member_added = zu einer Gruppe hinzugefügt
event-group_member_removed = aus einer Gruppe entfernt
event-client_login_refused = von einer Anwendung abgelehnt
event-host_added = Host hinzugefügt
event-host_removed = Host entfernt
event-host_credential_rotated = Host-Zugangsdaten ersetzt
event-host_group_allowed = Gruppe auf einem Host erlaubt
event-host_group_denied = Gruppe auf einem Host nicht mehr erlaubt
event-host_login_refused = von einem Host abgelehnt
event-device_user_code_refused = falscher Gerätecode
event-device_approved = Anmeldung eines Geräts genehmigt
event-device_denied = Anmeldung eines Geräts abgelehnt

## Rollen (role-<role>)

role-user = Benutzer
role-admin = Administrator

## Die Geräteseite (RFC 8628: ein Fernseher oder Kommandozeilenwerkzeug lässt sich hier bestätigen)

device-connect-title = Gerät verbinden
device-connect-lead = Geben Sie den Code ein, den Ihr Gerät oder Kommandozeilenwerkzeug anzeigt.
device-code-label = Code
device-continue = Weiter
device-error-wrong = Dieser Code ist nicht richtig. Prüfen Sie den Code auf Ihrem Gerät und versuchen Sie es erneut.
device-error-limited = Zu viele falsche Codes. Warten Sie { $seconds } Sekunden und versuchen Sie es erneut.
device-error-expired = Dieser Code ist abgelaufen. Beginnen Sie auf Ihrem Gerät von vorn.
device-error-used = Dieser Code wurde schon benutzt. Beginnen Sie auf Ihrem Gerät von vorn, wenn Sie einen neuen brauchen.
device-error-empty = Geben Sie den Code ein, den Ihr Gerät anzeigt.
device-error-gone = Diese Anfrage wartet nicht mehr. Geben Sie den Code erneut ein oder beginnen Sie auf Ihrem Gerät von vorn.
device-approve-title = Gerät bestätigen
device-wants = { $client } möchte sich als { $user } anmelden.
device-only-if-yours = Bestätigen Sie nur, wenn Sie dies gerade selbst auf Ihrem Gerät begonnen haben.
device-asks-for = Es möchte:
device-approve = Bestätigen
device-deny = Ablehnen
device-approved-title = Gerät bestätigt
device-approved = { $client } ist angemeldet. Sie können zu Ihrem Gerät zurückkehren.
device-denied-title = Anfrage abgelehnt
device-refused = Dieses Konto darf sich nicht bei { $client } anmelden. Dem Gerät wurde abgesagt.
device-denied = { $client } hat keinen Zugriff erhalten. Sie können diese Seite schließen.
device-removed-title = Diese Anfrage kann nicht abgeschlossen werden
device-client-removed = Die Anwendung wurde entfernt.
device-bad-form-title = Dieses Formular ist nicht richtig
device-bad-form = Wählen Sie „Bestätigen“ oder „Ablehnen“.
scope-openid = Ihre Stepgate-Identität
scope-profile = Ihr Name und Benutzername
scope-email = Ihre E-Mail-Adresse
scope-phone = Ihre Telefonnummer
scope-groups = Die Gruppen, in denen Sie sind
scope-offline_access = Zugriff, während Sie nicht da sind (bis Sie sich davon abmelden)
scope-stepgate_account = Ihre zweiten Faktoren verwalten
scope-stepgate_admin = Stepgate verwalten

## Die Ablehnungen falscher Eingaben durch den Kern (core-<id>; API und CLI sagen dasselbe auf Englisch)

core-phone-no-plus = Beginnen Sie mit + und der Ländervorwahl, etwa +15551231234.
core-phone-not-digits = Nach dem + nur Ziffern, ohne Leerzeichen oder Bindestriche.
core-phone-length = Nach dem + 8 bis 15 Ziffern.
core-phone-no-country = Nach dem + zuerst die Ländervorwahl (nicht 0).
core-email-empty = Geben Sie eine E-Mail-Adresse ein.
core-email-too-long = Eine E-Mail-Adresse hat höchstens 254 Zeichen.
core-email-spaces = Eine E-Mail-Adresse enthält keine Leer- oder Steuerzeichen.
core-email-no-at = Eine E-Mail-Adresse enthält ein @, etwa name@example.com.
core-email-two-at = Eine E-Mail-Adresse enthält nur ein @.
core-email-no-name = Vor dem @ steht ein Name, etwa name@example.com.
core-email-no-domain = Nach dem @ steht eine Domain mit Punkt, etwa name@example.com.
core-username-form = 1 bis 64 Buchstaben, Ziffern, „.“, „_“ oder „-“, nicht mit „-“ beginnend und nicht nur „.“ oder „..“.
core-password-short = Ein Passwort hat mindestens 8 Zeichen.
core-password-long = Ein Passwort hat höchstens 1024 Bytes.
core-code-wrong = Dieser Code ist nicht richtig. Versuchen Sie es erneut.
core-passkey-name-empty = Geben Sie dem Passkey einen Namen, etwa „YubiKey 5“ oder „Laptop“.
core-passkey-name-long = Ein Name hat höchstens 64 Zeichen und keine Steuerzeichen.
core-passkey-request-gone = Diese Passkey-Anfrage ist abgelaufen oder wurde schon benutzt. Beginnen Sie von vorn.
core-passkey-answer-unreadable = Die Antwort des Browsers konnte nicht gelesen werden. Beginnen Sie von vorn.
core-passkey-answer-refused = Die Antwort des Authenticators wurde nicht angenommen. Beginnen Sie von vorn.
core-passkey-known = Dieser Passkey ist schon registriert.

## Eine PAM-Anmeldung im Browser genehmigen (das Terminal zeigt einen Code für /device)

approval-title = Anmeldung genehmigen
approval-lead = Jemand meldet sich als { $user } an und bittet Sie, das hier zu genehmigen.
approval-host = Rechner
approval-service = Dienst
approval-from = Von
approval-tty = Terminal
approval-began = Begonnen
approval-only-if-yours = Genehmigen Sie nur, wenn dies Ihre eigene, gerade begonnene Anmeldung ist. Andernfalls lehnen Sie sie ab.
approval-approved-title = Anmeldung genehmigt
approval-approved = Die Anmeldung an { $host } geht weiter. Sie können diese Seite schließen.
approval-denied-title = Anmeldung abgelehnt
approval-denied = Die Anmeldung an { $host } wurde abgewiesen.
approval-over-title = Diese Anmeldung ist vorbei
approval-over = Die Zeit für die Anmeldung ist abgelaufen oder sie wurde beendet; melden Sie sich erneut am Rechner an.
approval-locked-title = Konto gesperrt
approval-locked = Dieses Konto ist nach zu vielen fehlgeschlagenen Prüfungen gesperrt; bitten Sie einen Administrator, es zu entsperren.
approval-limited-title = Zu viele Versuche
approval-limited = Zu viele Prüfungen in kurzer Zeit; warten Sie etwas und melden Sie sich erneut am Rechner an.
approval-provider-gone-title = Diese Art der Bestätigung ist nicht mehr verfügbar
approval-provider-gone = Der zweite Faktor, mit dem Sie sich angemeldet haben, wurde abgeschaltet. Melden Sie sich mit einem anderen erneut an.
approval-other-title = Diese Anmeldung gehört zu einem anderen Konto
approval-other = Nur das Konto, das sich anmeldet, kann die Anmeldung genehmigen. Melden Sie sich mit diesem Konto an oder schließen Sie diese Seite.
approval-sign-in-again-title = Erneut anmelden
approval-sign-in-again = Um eine Anmeldung zu genehmigen, melden Sie sich erneut mit Ihrem zweiten Faktor an.
event-login_approval_requested = Genehmigung einer Anmeldung angefordert
event-login_approval_refused = Genehmigung durch ein anderes Konto abgewiesen
core-passwordless-off = Die Anmeldung mit Passkey ohne Passwort ist ausgeschaltet.

## Die Ablehnungen des Kerns nach seinen Regeln (core-<id>)

core-enrolment-gone = Für diese Methode läuft keine Einrichtung (oder sie ist abgelaufen). Beginnen Sie von vorn.
core-backup-codes-not-alone = Richten Sie zuerst eine andere Methode ein: Backup-Codes können nicht Ihr einziger zweiter Faktor sein.
core-last-factor = Mindestens ein zweiter Faktor ist erforderlich: Fügen Sie einen weiteren hinzu, bevor Sie diesen entfernen.
core-no-factor-set-up = Für dieses Konto ist kein zweiter Faktor eingerichtet.
core-no-factor-available = Es ist kein zweiter Faktor verfügbar.
core-passkey-only = Der einzige zweite Faktor dieses Kontos ist ein Passkey, der hier nicht verwendet werden kann. Fügen Sie auf der Kontoseite eine Authenticator-App oder Backup-Codes hinzu.
core-codes-not-sent = { $provider }-Codes werden nicht gesendet.
core-host-login-no-longer = Dieses Konto darf sich an diesem Host nicht mehr anmelden.
core-device-answered = Diese Anfrage wurde bereits beantwortet oder ist abgelaufen.

## Die Ablehnungen des Kerns in der Admin-Konsole (core-<id>)

core-user-exists = Es gibt bereits einen Benutzer namens „{ $name }“.
core-group-exists = Es gibt bereits eine Gruppe namens „{ $name }“.
core-group-in-use = Die Gruppe „{ $name }“ ist bei diesen Clients als erlaubte Gruppe eingetragen: { $clients }. Entfernen Sie sie dort zuerst.
core-group-name-form = „{ $name }“ ist kein Gruppenname: Verwenden Sie 1 bis 64 Kleinbuchstaben, Ziffern, „.“, „_“ oder „-“, beginnend mit einem Buchstaben oder einer Ziffer.
core-group-listed-twice = „{ $name }“ ist doppelt angegeben.
core-group-missing = Es gibt keine Gruppe namens „{ $name }“ (legen Sie sie zuerst an).
core-host-exists = Es gibt bereits einen Host namens „{ $name }“.
core-host-name-length = Ein Hostname hat 1 bis 253 Zeichen.
core-host-name-form = Ein Hostname besteht aus Buchstaben, Ziffern, „.“, „-“ und „_“ und beginnt mit einem Buchstaben oder einer Ziffer.
core-host-no-such-group = Es gibt keine Gruppe namens „{ $name }“.
core-host-group-not-allowed = Der Host „{ $host }“ lässt die Gruppe „{ $group }“ nicht zu.
core-settings-provider-twice = { $provider } ist doppelt angegeben.
core-settings-name-length = Verwenden Sie 1 bis 64 Zeichen.
core-settings-issuer-colon = Der Name darf kein „:“ enthalten (Authenticator-Apps trennen die Bezeichnung daran auf).
core-settings-sms-no-code = Der Text muss ${"{"}code{"}"} enthalten.
core-settings-sms-long = Der Text hat höchstens 320 Zeichen.
core-settings-codes-quantity = Geben Sie eine Zahl von 1 bis 100 an.
core-settings-send-period = Geben Sie 5 bis 86400 Sekunden an.
core-settings-lockout = Geben Sie eine Zahl von 0 (nie sperren) bis 65535 an.
core-settings-verification-time = Geben Sie 60 bis 86400 Sekunden an.
core-settings-code-lifetime = Geben Sie 30 bis 86400 Sekunden an.
core-settings-rate-form = „{ $value }“ hat nicht die Form N:S (höchstens N Prüfungen in S Sekunden).
core-settings-rate-zero = N und S müssen beide mindestens 1 sein.
core-settings-no-mail = Der Mail-Versand ist nicht eingerichtet: Konfigurieren Sie [smtp], bevor Sie EMAIL einschalten.
core-settings-no-sms = Der SMS-Versand ist nicht konfiguriert: Konfigurieren Sie [sms], bevor Sie SMS einschalten.
core-rp-id-form = Geben Sie einen Hostnamen (etwa example.com) ohne Schema, Port oder Pfad an, oder lassen Sie das Feld für den Host des Issuers leer.
core-rp-attestation-none = Nur „none“ wird unterstützt (Authenticators werden nicht nach ihrem Hersteller gefragt).
core-rp-origin-form = Geben Sie einen Origin wie https://login.example.com an (Schema, Host, optional ein Port).
core-rp-issuer-ip = Passkeys brauchen den Issuer unter einem Domainnamen, und „{ $host }“ ist eine IP-Adresse: Verwenden Sie in server.issuer einen Hostnamen (für einen Test localhost).
core-rp-id-misfit = „{ $rp_id }“ passt nicht zum Origin des Issuers { $origin }: { $why }
core-rp-origin-unreadable = „{ $origin }“ ist kein gültiger Origin: { $why }
core-rp-origin-off-id = { $origin } liegt weder auf der Relying-Party-ID „{ $rp_id }“ noch auf einer ihrer Subdomains.
core-client-exists = Es gibt bereits einen Client „{ $id }“.
core-client-public-no-secret = { $id } ist ein öffentlicher Client: Er hat kein Secret, das sich erneuern ließe.
core-client-id-form = Verwenden Sie 1 bis 128 Buchstaben, Ziffern, „.“, „_“, „-“ oder „:“.
core-client-name-long = Ein Name hat höchstens 200 Zeichen.
core-uri-not-absolute = „{ $uri }“ ist keine absolute URL: { $why }
core-uri-fragment = „{ $uri }“ darf kein Fragment enthalten.
core-uri-not-https = „{ $uri }“ muss https verwenden (einfaches http ist nur für localhost erlaubt).
core-uri-scheme = „{ $uri }“: Das Schema „{ $scheme }“ ist nicht erlaubt; verwenden Sie https.
core-client-no-grant = Wählen Sie mindestens einen Grant-Typ.
core-client-code-no-redirect = Der Grant authorization_code braucht mindestens eine Redirect-URI.
core-client-code-redirect-left = Der Grant authorization_code braucht mindestens eine Redirect-URI.
core-client-refresh-alone = Der Grant refresh_token ist nur zusammen mit authorization_code oder { $device } sinnvoll.
core-client-public-credentials = Ein öffentlicher Client kann client_credentials nicht verwenden (er hat kein Secret).
core-client-scope-is-api = „{ $scope }“ ist ein Scope der Stepgate-API: Wählen Sie ihn unter „Zugriff auf die Stepgate-API“.
core-client-scope-not-grantable = „{ $scope }“ kann nicht über client_credentials gewährt werden.
core-client-api-scope-unknown = „{ $scope }“ ist kein Scope der Stepgate-API; wählen Sie einen der angebotenen.
core-client-api-scope-twice = „{ $scope }“ ist doppelt angegeben.
core-approval-other-account = Diese Anmeldung gehört zu einem anderen Konto. Melden Sie sich mit diesem Konto an, um sie zu genehmigen.
