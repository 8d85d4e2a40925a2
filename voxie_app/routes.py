"""Route strings for pages, in one place (pages, links and tests use these)."""

HOME = "/"
DASHBOARD = "/dashboard"
AGENTS = "/agents"
AGENTS_NEW = "/agents/new"
AGENT_DETAIL = "/agents/[id]"
AGENT_CHAT = "/agents/[id]/chat"
BUILDER = "/builder"
CALL = "/call"
CALL_AGENT = "/call/[id]"
CALLS = "/calls"
CALL_DETAIL = "/calls/[id]"
ANALYTICS = "/analytics"
SETTINGS = "/settings"
TOOLS = "/tools"
DO_NOT_CALL = "/do-not-call"
PHONE = "/phone"
CAMPAIGNS = "/campaigns"
CAMPAIGN_DETAIL = "/campaigns/[id]"
API_DOCS = "/api/docs"
LOGIN = "/login"
SETUP = "/setup"


def agent(agent_id: str) -> str:
    return f"/agents/{agent_id}"


def agent_chat(agent_id: str) -> str:
    return f"/agents/{agent_id}/chat"


def call_agent(agent_id: str) -> str:
    return f"/call/{agent_id}"


def call(call_id: str) -> str:
    return f"/calls/{call_id}"


def campaign(campaign_id: str) -> str:
    return f"/campaigns/{campaign_id}"
