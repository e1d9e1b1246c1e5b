"""Print the body that starts a conversation on a standalone agent server: the default agent without a
browser, its model at the fake LLM. Run by the agent server venv's Python (it imports only openhands):

    python agent_request.py <llm base url> <working dir> <policy: never|always>
"""

from __future__ import annotations

import sys

from openhands.agent_server.models import StartConversationRequest
from openhands.sdk import LLM, Agent
from openhands.sdk.security.confirmation_policy import AlwaysConfirm, NeverConfirm
from openhands.sdk.workspace import LocalWorkspace
from openhands.tools.preset.default import get_default_tools


def main() -> None:
    base_url, working_dir, policy = sys.argv[1:4]
    llm = LLM(model="openai/fake-model", api_key="sk-fake", base_url=base_url, usage_id="agent")
    agent = Agent(llm=llm, tools=get_default_tools(enable_browser=False))
    request = StartConversationRequest(
        agent=agent,
        workspace=LocalWorkspace(working_dir=working_dir),
        confirmation_policy=AlwaysConfirm() if policy == "always" else NeverConfirm(),
    )
    print(request.model_dump_json(context={"expose_secrets": "plaintext"}))  # the fake LLM's key, sk-fake


if __name__ == "__main__":
    main()
