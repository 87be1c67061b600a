"""The site's ASGI application with static files served, for daphne in the browser tests.

Production serves /static/ from the web server in front of daphne; the tests
have none, so Django's static-files handler serves the app's own files.
"""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from telephony_site.asgi import application as site_application

application = ASGIStaticFilesHandler(site_application)
