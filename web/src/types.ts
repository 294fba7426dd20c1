// The API's JSON, as the UI uses it (see /openapi.json).

export interface User {
  id: string;
  name: string;
  role?: string;
}

export interface WebSession {
  user: User;
  csrf_token?: string;
}

/** An agent or session event: interp run --json's JSON. */
export interface AgentEvent {
  type: string;
  step?: number;
  cell?: string;
  text?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  path?: string;
  size?: number;
  change?: string;
  phase?: string;
  package?: string;
  version?: string;
  message?: string;
  status?: string;
  reason?: string;
  duration?: number;
  tool?: string;
  packages?: string[];
  task_id?: string;
  /** A confirm event's ID. */
  id?: string;
}

export interface TaskResult {
  conversation_id: string;
  task_id?: string;
  session_id: string;
  stop: string;
  reason?: string;
  answer?: string;
  steps: number;
}

export interface ConversationSummary {
  id: string;
  kind: string;
  title: string;
  model?: string;
  created_at: string;
  updated_at: string;
  tasks: number;
  cells: number;
  /** The last task's status: running, answered, stopped, interrupted, failed. */
  status?: string;
  /** In a few words, how the last task ended: "step limit", "stopped", ... */
  state?: string;
}

export interface RecordedTask {
  id: string;
  seq: number;
  prompt: string;
  status: string;
  stop?: string;
  reason?: string;
  answer?: string;
  steps: number;
}

export interface Conversation extends ConversationSummary {
  tasks_list?: never;
  tasks: number & RecordedTask[];
  events?: (AgentEvent & { seq: number; task_id?: string })[];
}

export interface FileInfo {
  path: string;
  size: number;
  modified?: string;
  dir?: boolean;
}

export interface SessionInfo {
  id: string;
  status?: string;
}

export interface Me {
  user: User;
  quotas: {
    sessions: number;
    executions_per_minute: number;
    tokens_per_day: number;
    workspace_bytes: number;
  };
  usage: { sessions: number; tokens_today: number; workspace_bytes: number };
}

export interface ModelChoice {
  provider: string;
  model: string;
  default?: boolean;
  local?: boolean;
}

export interface UserSettings {
  provider?: string;
  model?: string;
  memory?: number;
  cell_timeout?: number;
  /** Ask before running code: tasks from the UI start with confirm. */
  confirm?: boolean;
}

export interface Range {
  min: number;
  max: number;
  default: number;
}

/** GET /v1/me/settings: the user's settings and what the server allows. */
export interface SettingsDoc {
  settings: UserSettings;
  models: ModelChoice[] | null;
  limits: { memory: Range; cell_timeout: Range };
}
